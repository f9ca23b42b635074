"""The Serve ingress: ``modeldeck serve``'s FastAPI app, built inside the replica, models behind handles."""

from __future__ import annotations

import os

from ray import serve

from .plan import ClusterPlan


def server_config(plan: ClusterPlan):
    """The server's settings as ``modeldeck serve`` took them; the key from the replica's environment."""
    from ..server import ServerConfig

    fields = dict(plan.server)
    for name in ("tasks", "preload"):
        if fields.get(name) is not None:
            fields[name] = tuple(fields[name])
    fields["preload"] = ()  # the deployments are the models; Serve loads them before traffic
    config = ServerConfig.from_env(**fields)  # MODELDECK_API_KEY from the replica's environment
    if plan.require_key and not config.api_key:
        # plain text: Serve shows it as the replica's error in 'serve status'
        raise RuntimeError(
            "modeldeck listens beyond loopback here (http_options.host), so it needs an API key, and this "
            "replica has none. Set MODELDECK_API_KEY in the environment of 'ray start' on every node, or in "
            "the application's runtime_env.env_vars; or serve on 127.0.0.1.")
    return config


@serve.ingress()
class Ingress:
    """The HTTP API (both dialects, auth, limits, errors) as ``modeldeck serve`` has it."""

    def __init__(self, args: dict, handles: list):
        self.plan = ClusterPlan.from_args(args)
        self.handles = handles
        os.environ.update(self.plan.env)  # limits are process settings, fixed at start as in `modeldeck serve`

    def __serve_build_asgi_app__(self):
        from ..server import create_app
        from .remote import RayModels

        config = server_config(self.plan)
        models = RayModels(config, self.plan.models, self.handles, self.plan.timeout)
        return create_app(config, models=models)
