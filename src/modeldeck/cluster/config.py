"""``modeldeck serve --ray --print-config``: a Ray Serve config file for ``serve deploy`` or a KubeRay RayService."""

from __future__ import annotations

import json

from .plan import APP_NAME, ClusterPlan

HEADER = """\
# modeldeck on Ray Serve. On a running cluster:  serve deploy THIS_FILE   (then: serve status)
# A cluster with Ray's token authentication (on when ~/.ray/auth_token existed at 'ray start --head'):
#   RAY_AUTH_MODE=token serve deploy THIS_FILE   (the token: ~/.ray/auth_token, or RAY_AUTH_TOKEN)
# With KubeRay: paste everything below into a RayService's spec.serveConfigV2.
# Every node needs modeldeck[cluster] (and the models' extras) installed, and the models
# on it: 'modeldeck pull MODEL' on each node, or HF_HUB_CACHE (runtime_env) on a shared volume.
# An API key goes in runtime_env.env_vars.MODELDECK_API_KEY (kept out of this file).
"""


def serve_config(plan: ClusterPlan, host: str, port: int, proxy_location: str) -> dict:
    """The config: the application (import path + args) and each deployment's replicas and resources."""
    args = plan.to_args()
    args["server"] = {k: v for k, v in args["server"].items() if k != "api_key"}
    deployments = plan.deployment_options()
    application = {"name": APP_NAME, "route_prefix": "/", "import_path": "modeldeck.cluster:build", "args": args,
                   "deployments": deployments}
    if plan.env:
        application["runtime_env"] = plan.runtime_env()
    return {"proxy_location": proxy_location, "http_options": {"host": host, "port": port},
            "applications": [application]}


def render(config: dict) -> str:
    """YAML when PyYAML is there (Ray brings it), else JSON (which YAML readers also take)."""
    try:
        import yaml
    except ImportError:
        return HEADER + json.dumps(config, indent=2) + "\n"
    return HEADER + yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False, default_flow_style=False)
