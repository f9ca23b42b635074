"""``modeldeck serve``: an HTTP server speaking the Hugging Face Inference task API and the OpenAI API.

Routes, request bodies and OpenAPI schemas come from the task specs; every model
call goes through the pooled runners (``modeldeck.load``), in worker threads, so
concurrent requests to one model are batched by its engine and the event loop
never waits on a model. Needs the ``server`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def create_app(config: ServerConfig | None = None, models=None):
    """The FastAPI application for ``config`` (defaults: every task, loopback limits).

    ``models`` (a ``server.models.Models``) is where runners come from: by default the local pool."""
    from .app import create_app as make

    return make(config or ServerConfig(), models=models)
