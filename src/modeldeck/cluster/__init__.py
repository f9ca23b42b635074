"""Scale-out on Ray Serve: ``modeldeck serve --ray`` runs the same HTTP API as a Serve application.

The FastAPI app is the Serve ingress; each served model is its own deployment
(replicas, fractional CPUs, GPUs, and memory from modeldeck's own prediction),
called by the ingress through deployment handles. Needs the ``cluster`` extra
(``ray[serve]``); ``plan`` and ``config`` import no Ray.
"""

from __future__ import annotations

from .plan import APP_NAME, ClusterPlan, ModelPlan

__all__ = ["APP_NAME", "ClusterPlan", "ModelPlan", "build"]


def build(args: dict):
    """The Ray Serve application for ``args`` (what a Serve config's ``import_path`` names)."""
    from .app import build as make

    return make(args)
