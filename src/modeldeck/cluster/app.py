"""The Ray Serve application: ``build(args)`` (what ``serve deploy`` imports) and the ``--ray`` driver."""

from __future__ import annotations

import signal
import threading

from .plan import APP_NAME, ClusterPlan


def build(args: dict):
    """The application for ``args`` (a ClusterPlan's arguments): one deployment per model, then the ingress."""
    from ray import serve

    from .ingress import Ingress
    from .replica import ModelReplica

    plan = ClusterPlan.from_args(args)
    runtime_env = plan.runtime_env()
    bound = []
    for model in plan.models:
        options = model.deployment_options()
        if runtime_env:
            options["ray_actor_options"]["runtime_env"] = runtime_env
        bound.append(serve.deployment(ModelReplica).options(**options).bind(model.task, model.model))
    options = plan.ingress_options()
    if runtime_env:
        options["ray_actor_options"]["runtime_env"] = runtime_env
    return serve.deployment(Ingress).options(**options).bind(plan.to_args(), bound)


def connect(address: str | None, quiet: bool = True) -> bool:
    """Join the Ray cluster at ``address`` ('auto': the running one); with none given and none running,
    start a local one. True when this process started the cluster (and so stops it)."""
    import ray

    options = {"log_to_driver": not quiet, "include_dashboard": False} if not address else {"log_to_driver": not quiet}
    if address:
        ray.init(address=address, **options)
        return False
    try:
        ray.init(address="auto", log_to_driver=not quiet)
        return False
    except ConnectionError:
        ray.init(**options)
        return True


def run(plan: ClusterPlan, address: str | None, host: str, port: int, proxy_location: str, announce,
        quiet: bool = True) -> None:
    """Deploy ``plan`` on the cluster, serve until interrupted, then take the application down."""
    import ray
    from ray import serve

    started = connect(address, quiet)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(proxy_location=proxy_location, http_options={"host": host, "port": port})
        # Serve already running on the cluster keeps its own address: announce the one it listens on.
        http = serve.context._get_global_client().http_config
        serve.run(build(plan.to_args()), name=APP_NAME, route_prefix="/", blocking=False)
        announce(getattr(http, "host", host), getattr(http, "port", port))
        stop.wait()
    finally:
        try:
            serve.delete(APP_NAME)
            if started:
                serve.shutdown()
        finally:
            ray.shutdown()
