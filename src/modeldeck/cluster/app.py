"""The Ray Serve application: ``build(args)`` (what ``serve deploy`` imports) and the ``--ray`` driver."""

from __future__ import annotations

import os
import signal
import threading

from .plan import APP_NAME, ClusterPlan


def build(args: dict):
    """The application for ``args`` (a ClusterPlan's arguments): with one model, its deployment answering
    HTTP itself; with several, one deployment per model and an ingress that picks the model asked for."""
    from ray import serve

    plan = ClusterPlan.from_args(args)
    runtime_env = plan.runtime_env()
    if plan.direct:
        from .direct import ModelServer

        options = plan.deployment_options()[0]
        if runtime_env:
            options["ray_actor_options"]["runtime_env"] = runtime_env
        return serve.deployment(ModelServer).options(**options).bind(plan.to_args())

    from .ingress import Ingress
    from .replica import ModelReplica

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
    from ray.exceptions import AuthenticationError

    options = {"log_to_driver": not quiet, "include_dashboard": False} if not address else {"log_to_driver": not quiet}
    try:
        if address:
            ray.init(address=address, **options)
            return False
        try:
            ray.init(address="auto", log_to_driver=not quiet)
            return False
        except ConnectionError:
            ray.init(**options)
            return True
    except AuthenticationError as e:
        raise token_needed(address, str(e)) from None
    except ConnectionError as e:
        # Ray reports a token it was not given as a failed connection (after ~20 s of retries), and
        # presents its token for an address given only in token mode: say so when that mode is off.
        if not address or os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "token":
            raise
        raise token_needed(address, str(e), maybe=True) from None


def token_needed(address: str | None, reason: str, maybe: bool = False):
    """The error when Ray's token authentication may have refused this process: what to set. Ray turns
    token mode on by itself only for 'ray start --head' and a local cluster found automatically."""
    from ..errors import InvalidInput

    where = f"the Ray cluster at {address}" if address else "the running Ray cluster"
    first = reason.strip().splitlines()[0][:200] if reason.strip() else "refused"
    message = (f"Could not join {where} ({first}). If it uses token authentication (Ray's default for new "
               "clusters), this process must present its token." if maybe else
               f"{where[0].upper()}{where[1:]} uses token authentication, and this process did not present its "
               f"token ({first}).")
    return InvalidInput(
        message,
        "Run with RAY_AUTH_MODE=token and the cluster's token in ~/.ray/auth_token (or RAY_AUTH_TOKEN=...; "
        "'ray get-auth-token' prints it on the head node). The same goes for 'ray start --address' on other "
        "nodes and for 'serve deploy' / 'serve status'.",
    )


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
