"""What a Ray Serve deployment of modeldeck is made of: the models, their replicas and resources.

Plain data (no Ray import): the same plan builds the running application and
the ``serve deploy`` config file, so both place models the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..server.config import DEFAULT_QUEUE

APP_NAME = "modeldeck"
INGRESS = "Ingress"
# Serve reserves a whole CPU per replica by default; small nodes (1 CPU each) could then place
# no more than one replica. Fractions let an ingress and several models share a node.
DEFAULT_REPLICA_CPUS = 0.5
DEFAULT_INGRESS_CPUS = 0.0
DEFAULT_TARGET_ONGOING = 2.0
REPLICA_ONGOING = 32  # requests one model replica takes at once (its engine batches them)
INGRESS_ONGOING = 512  # the ingress only waits on replicas: let it hold many requests
# A model deployment that answers HTTP itself takes --queue-size model calls (its runner refuses the next
# with modeldeck's 503) plus this many more, so that refusals, /health and /ready still get through to it
# instead of waiting in Serve's proxy.
DIRECT_HEADROOM = 16
DEFAULT_TIMEOUT = 300.0  # seconds the ingress waits for a replica's answer before a retryable 504
# Serve autoscaling_config fields an operator may set (numbers): how fast replicas follow the load.
AUTOSCALING_FIELDS = ("upscale_delay_s", "downscale_delay_s", "look_back_period_s", "upscaling_factor",
                      "downscaling_factor", "initial_replicas", "downscale_to_zero_delay_s")


@dataclass
class ModelPlan:
    """One served model: its deployment name, replicas and the resources each replica asks Ray for."""

    task: str
    model: str | None  # None: the task's default model
    name: str = ""
    replicas: int | None = 1
    min_replicas: int | None = None  # with max_replicas: autoscaling instead of a fixed count
    max_replicas: int | None = None
    target_ongoing: float = DEFAULT_TARGET_ONGOING
    cpus: float = DEFAULT_REPLICA_CPUS
    gpus: float = 0.0
    memory: int | None = None  # bytes; from modeldeck's memory prediction
    autoscaling: dict[str, float] = field(default_factory=dict)  # more Serve autoscaling_config fields

    def __post_init__(self):
        if not self.name:
            self.name = deployment_name(self.task, self.model)

    def deployment_options(self, direct_queue: int | None = None) -> dict[str, Any]:
        """Ray Serve deployment options (those ``serve deploy`` configs also take).

        ``direct_queue``: the deployment answers HTTP itself with this --queue-size per replica. Serve's
        proxy then sends each replica up to that many calls (plus headroom; the runner's own 503 refuses
        past the queue size), and holds at most that many more waiting for a free replica (past that,
        Serve's own 503): every queue stays bounded, as in one process.
        """
        actor: dict[str, Any] = {"num_cpus": self.cpus}
        if self.gpus:
            actor["num_gpus"] = self.gpus
        if self.memory:
            actor["memory"] = int(self.memory)
        ongoing = REPLICA_ONGOING if direct_queue is None else direct_queue + DIRECT_HEADROOM
        options: dict[str, Any] = {"name": self.name, "ray_actor_options": actor, "max_ongoing_requests": ongoing}
        if direct_queue is not None:
            options["max_queued_requests"] = direct_queue
        if self.min_replicas is not None or self.max_replicas is not None:
            low = self.min_replicas if self.min_replicas is not None else 1
            options["autoscaling_config"] = {"min_replicas": low, "max_replicas": max(low, self.max_replicas or low),
                                             "target_ongoing_requests": self.target_ongoing, **self.autoscaling}
        else:
            options["num_replicas"] = self.replicas or 1
        return options


@dataclass
class ClusterPlan:
    """The whole application: the server's settings (as ``modeldeck serve`` takes them) and the models."""

    models: list[ModelPlan]
    server: dict[str, Any] = field(default_factory=dict)  # ServerConfig fields
    env: dict[str, str] = field(default_factory=dict)  # process settings for every replica (limits, caches)
    ingress_cpus: float = DEFAULT_INGRESS_CPUS
    ingress_replicas: int = 1
    timeout: float = DEFAULT_TIMEOUT
    # One model: its deployment answers HTTP itself (Serve's proxy -> the replica: no ingress process, no
    # handle call, results encoded once). Several models need an ingress to pick the model a request names;
    # separate_ingress asks for that topology with one model too.
    separate_ingress: bool = False
    # Serve listens beyond loopback: the app refuses to start without an API key (from the replicas'
    # MODELDECK_API_KEY when the printed config left it out), as `modeldeck serve` refuses to.
    require_key: bool = False

    @property
    def direct(self) -> bool:
        """Whether the model deployment is the HTTP ingress itself (one model, no separate ingress asked for)."""
        return len(self.models) == 1 and not self.separate_ingress

    @property
    def queue_size(self) -> int:
        return int(self.server.get("queue_size") or DEFAULT_QUEUE)

    def to_args(self) -> dict[str, Any]:
        """JSON-able application arguments (``args:`` in a Serve config file)."""
        return {"models": [dataclasses.asdict(m) for m in self.models], "server": self.server, "env": self.env,
                "ingress_cpus": self.ingress_cpus, "ingress_replicas": self.ingress_replicas,
                "timeout": self.timeout, "separate_ingress": self.separate_ingress, "require_key": self.require_key}

    def deployment_options(self) -> list[dict[str, Any]]:
        """Every deployment's options, the HTTP ingress first."""
        if self.direct:
            return [self.models[0].deployment_options(direct_queue=self.queue_size)]
        return [self.ingress_options(), *(m.deployment_options() for m in self.models)]

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> ClusterPlan:
        models = [ModelPlan(**m) for m in args.get("models", [])]
        if not models:
            raise InvalidInput("A Ray deployment needs at least one model.",
                               "Name them with --preload [TASK=]MODEL (args.models in a config file).")
        return cls(models=models, server=dict(args.get("server") or {}), env=dict(args.get("env") or {}),
                   ingress_cpus=float(args.get("ingress_cpus", DEFAULT_INGRESS_CPUS)),
                   ingress_replicas=int(args.get("ingress_replicas", 1)),
                   timeout=float(args.get("timeout", DEFAULT_TIMEOUT)),
                   separate_ingress=bool(args.get("separate_ingress", False)),
                   require_key=bool(args.get("require_key", False)))

    def ingress_options(self) -> dict[str, Any]:
        return {"name": INGRESS, "num_replicas": self.ingress_replicas, "max_ongoing_requests": INGRESS_ONGOING,
                "ray_actor_options": {"num_cpus": self.ingress_cpus}}

    def runtime_env(self) -> dict[str, Any]:
        return {"env_vars": dict(self.env)} if self.env else {}


def deployment_name(task: str, model: str | None) -> str:
    """A Serve deployment name for (task, model): readable, and unique even when slugs collide."""
    label = f"{task}:{model or 'default'}"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model or "default").strip("-")[:60]
    return f"{task}--{slug}-{hashlib.sha1(label.encode()).hexdigest()[:6]}"


def per_model(values: tuple[str, ...], option: str, kind=int) -> tuple[Any, dict[str, Any]]:
    """``[MODEL=]VALUE`` options: the value for every model, and values for named models."""
    default, named = None, {}
    for entry in values:
        model, sep, value = entry.rpartition("=")
        try:
            parsed = kind(value)
        except ValueError:
            raise InvalidInput(f"{option} {entry!r} is not [MODEL=]{kind.__name__.upper()}.",
                               f"E.g. {option} 2 or {option} sentence-transformers/all-MiniLM-L6-v2=2") from None
        if parsed < 0 or (kind is int and option != "--min-replicas" and parsed < 1):
            raise InvalidInput(f"{option} {entry!r} is out of range.", "Use a positive number.")
        if sep:
            named[model] = parsed
        else:
            default = parsed
    return default, named


def predicted_memory(task: str, model: str | None, device: str = "cpu") -> int | None:
    """Bytes a replica of ``model`` needs on a CPU node (weights + runtime), when the model is here to read."""
    from ..hub import cached_snapshot, packaged_path
    from ..memory import RUNTIME_OVERHEAD, predicted_size
    from ..pipelines import get_task
    from ..refs import ModelRef

    name = model or get_task(task).spec.default_model
    try:
        path = Path(name).expanduser()
        if path.is_dir():
            folder = path
        else:
            ref = ModelRef.parse(name)
            folder = cached_snapshot(ref) or packaged_path(ref.id)
            if folder is None and model is None and get_task(task).spec.offline_default:
                folder = packaged_path(get_task(task).spec.offline_default)
        if folder is None:
            return None
        return predicted_size(folder, device, name) + RUNTIME_OVERHEAD
    except Exception:  # noqa: BLE001 - a missing prediction only leaves memory unreserved
        return None
