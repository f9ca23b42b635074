"""``modeldeck serve --ray``: the plan from the command line, then deploy it (or print its config)."""

from __future__ import annotations

import dataclasses
import os

import click

from ..errors import InvalidInput
from .plan import AUTOSCALING_FIELDS, ClusterPlan, ModelPlan, per_model, predicted_memory

# Process settings fixed at start and carried to every replica (runtime_env.env_vars).
LIMITS = ("MODELDECK_MAX_AUDIO_SECONDS", "MODELDECK_MAX_IMAGE_PIXELS", "MODELDECK_MAX_NEW_TOKENS", "MODELDECK_DTYPE")


def model_entries(config, preload: tuple[str, ...]) -> list[tuple[str, str | None, str]]:
    """(task, model or None for the task's default, the name the operator gave) for each --preload."""
    from ..pipelines import canonical_name
    from ..server.models import OPENAI_ALIASES, Models

    if not preload:
        raise InvalidInput("modeldeck serve --ray needs the models to deploy.",
                           "Name each with --preload [TASK=]MODEL (e.g. --preload whisper-1 for the default "
                           "speech recognition model).")
    entries = []
    for entry in preload:
        task, _, model = entry.rpartition("=")
        if task:
            entries.append((canonical_name(task), model, model))
        elif model in OPENAI_ALIASES:
            entries.append((OPENAI_ALIASES[model], None, model))
        else:
            try:
                tasks = Models(config).tasks_for(model)
            except Exception as e:  # noqa: BLE001 - the operator can name the task instead
                raise InvalidInput(f"Cannot tell which task {model} serves here ({e}).",
                                   f"Name it: --preload TASK={model}") from None
            if not tasks:
                raise InvalidInput(f"{model} serves none of the tasks this server runs.",
                                   f"Name the task: --preload TASK={model}")
            entries.append((tasks[0], model, model))
    return entries


def autoscaling_fields(entries: tuple[str, ...]) -> dict[str, float]:
    """``--autoscaling NAME=VALUE`` options: more fields of Serve's autoscaling_config, as numbers."""
    fields = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep or name not in AUTOSCALING_FIELDS:
            raise InvalidInput(f"--autoscaling {entry!r} is not NAME=NUMBER with a name Serve's autoscaling takes.",
                               f"Names: {', '.join(AUTOSCALING_FIELDS)} (e.g. --autoscaling downscale_delay_s=60).")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= 0 or number == float("inf"):
            raise InvalidInput(f"--autoscaling {entry!r}: {value!r} is not a number of 0 or more.",
                               f"E.g. --autoscaling {name}=30")
        fields[name] = int(number) if name == "initial_replicas" else number
    return fields


def make_plan(config, replicas, min_replicas, max_replicas, target_ongoing, replica_cpus, replica_gpus,
              ingress_cpus, timeout, autoscaling=(), separate_ingress=False) -> ClusterPlan:
    """Models, replicas and resources from ``modeldeck serve --ray``'s options."""
    more_autoscaling = autoscaling_fields(autoscaling)
    counts = per_model(replicas, "--replicas")
    lows = per_model(min_replicas, "--min-replicas")
    highs = per_model(max_replicas, "--max-replicas")
    cpus = per_model(replica_cpus, "--replica-cpus", float)
    gpus = per_model(replica_gpus, "--replica-gpus", float)

    models = []
    for task, model, given in model_entries(config, config.preload):
        names = (given, model, f"{task}={model}" if model else task)  # how --replicas etc. may name it

        def pick(values, _, fallback=None, names=names):
            default, named = values
            found = next((named[n] for n in names if n in named), None)
            return found if found is not None else default if default is not None else fallback

        plan = ModelPlan(task=task, model=model, replicas=pick(counts, given, 1),
                         min_replicas=pick(lows, given), max_replicas=pick(highs, given),
                         target_ongoing=target_ongoing, autoscaling=dict(more_autoscaling))
        plan.cpus = pick(cpus, given, plan.cpus)
        plan.gpus = pick(gpus, given, 0.0)
        plan.memory = None if plan.gpus else predicted_memory(task, model)
        models.append(plan)
    server = dataclasses.asdict(config)
    server["preload"] = []
    env = {k: os.environ[k] for k in LIMITS if os.environ.get(k)}
    return ClusterPlan(models=models, server=server, env=env, ingress_cpus=ingress_cpus, timeout=timeout,
                       separate_ingress=separate_ingress)


def serve_on_ray(plan: ClusterPlan, address: str, host: str, port: int, proxy_location: str, print_config: bool,
                 log_level: str) -> None:
    """Print the Serve config, or deploy on the cluster and serve until interrupted."""
    from ..ui.auth import is_loopback

    plan.require_key = not is_loopback(host)
    if print_config:
        from .config import render, serve_config

        click.echo(render(serve_config(plan, host, port, proxy_location)), nl=False)
        return
    from ..errors import require

    require("ray.serve", "ray[serve]", extra="cluster")
    from .app import run

    if port == 0:
        raise InvalidInput("Ray Serve listens on a fixed port.", "Give --port N (8000 by default).")

    def announce(bound_host: str, bound_port: int):
        if (bound_host, bound_port) != (host, port):
            click.echo(f"Note: Serve was already running on this cluster at {bound_host}:{bound_port}; it keeps "
                       "that address (run 'serve shutdown' to change it).", err=True)
        shape = ("the model's replicas answer HTTP themselves" if plan.direct
                 else f"an ingress and {len(plan.models)} model deployments")
        click.echo(f"modeldeck serving on http://{bound_host}:{bound_port}  (Ray Serve application 'modeldeck': "
                   f"{shape}; docs: /docs)")

    run(plan, address or None, host, port, proxy_location, announce, quiet=log_level != "debug")
