"""``modeldeck ps`` / ``modeldeck stop`` against a running web UI: ``GET /api/ps`` and ``POST /api/stop`` on the
page's own server, answering as ``modeldeck serve`` does (see ``modeldeck.held``).

Gradio's login (a cookie) does not cover routes added beside the page, so these check the key themselves: when
the page asks for a login, a request needs ``Authorization: Bearer $MODELDECK_API_KEY``.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from fastapi import Body, Request  # gradio's own web framework: no new dependency
from fastapi.responses import JSONResponse

from .auth import API_KEY_ENV


def add_routes(blocks: Any, login: bool) -> None:
    """Add the routes to a launched app's FastAPI server (routes are looked up per request, so adding them after
    the server started is fine)."""
    from .. import held
    from ..errors import ModeldeckError, ModelNotAvailable

    server = getattr(blocks, "server_app", None)
    if server is None:  # not served (a stand-in in tests)
        return
    key = os.environ.get(API_KEY_ENV, "").strip()

    def refused(request: Request) -> JSONResponse | None:
        if not login:
            return None
        given = request.headers.get("authorization", "")
        token = given[7:].strip() if given.lower().startswith("bearer ") else ""
        if key and token and hmac.compare_digest(token.encode(), key.encode()):
            return None
        return JSONResponse({"error": f"This page needs its key: Authorization: Bearer ${API_KEY_ENV}."},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def answer(work) -> JSONResponse:
        try:
            return JSONResponse(work())
        except ModeldeckError as error:
            status = 404 if isinstance(error, ModelNotAvailable) else 400
            return JSONResponse({"error": str(error)}, status_code=status)

    def ps(request: Request):
        return refused(request) or answer(lambda: {"models": held.models()})

    def stop(request: Request, body: dict = Body(...)):  # noqa: B008 - FastAPI's way
        model, task = body.get("model"), body.get("task")
        if not isinstance(model, str) or not model.strip() or not (task is None or isinstance(task, str)):
            return refused(request) or JSONResponse({"error": 'Send {"model": "MODEL"} (and optionally "task").'},
                                                    status_code=422)
        return refused(request) or answer(lambda: {"stopped": held.stop(model.strip(), task)})

    server.add_api_route("/api/ps", ps, methods=["GET"], include_in_schema=False)
    server.add_api_route("/api/stop", stop, methods=["POST"], include_in_schema=False)
