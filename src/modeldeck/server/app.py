"""The FastAPI application: routes from the task specs, error mapping, health, readiness and metrics."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import ModeldeckError
from . import hf, openai_routes, rerank
from .config import ServerConfig
from .errors import ClientError, as_client_error, hf_body, is_openai_path, openai_body
from .guard import BodyTooLarge, Guard
from .metrics import Metrics, Timing
from .models import Models

log = logging.getLogger("modeldeck.server")


class StopRequest(BaseModel):
    model: str = Field(..., description="a loaded model, as named or as resolved (an OpenAI name: its task's default)",
                       examples=["gpt2"], min_length=1, max_length=300)
    task: str | None = Field(None, description="only this task's runner of the model")


@dataclass
class State:
    config: ServerConfig
    models: Models
    metrics: Metrics | None
    ready: bool = False
    preload_error: str | None = None


def error_response(request: Request, error: ClientError) -> JSONResponse:
    body = openai_body(error) if is_openai_path(request.url.path) else hf_body(error)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def create_app(config: ServerConfig, models: Models | None = None) -> FastAPI:
    # models: where runners come from (the local pool; on Ray, deployment handles: modeldeck.cluster)
    models = models if models is not None else Models(config)
    try:
        metrics = Metrics(models)
    except ImportError:
        metrics = None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if config.preload:
            try:
                await anyio.to_thread.run_sync(models.preload)
            except Exception as e:  # noqa: BLE001 - reported by /ready and in the log; the server still answers
                known = as_client_error(e)
                state.preload_error = str(known or e)
                log.error("preloading failed: %s", state.preload_error)
        state.ready = state.preload_error is None
        yield

    app = FastAPI(
        title="modeldeck",
        version=__version__,
        description="Local inference speaking the Hugging Face Inference task API and the OpenAI API. "
                    "Routes and schemas are generated from modeldeck's task specs.",
        lifespan=lifespan,
    )
    state = State(config, models, metrics)
    app.state.modeldeck = state

    @app.exception_handler(ClientError)
    async def client_error(request: Request, error: ClientError):
        return error_response(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = error.errors()
        first = problems[0] if problems else {}
        loc = list(first.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "form"):  # where it was sent, not which field (a field
            loc = loc[1:]  # may be named "query" too: rerank's)
        where = [str(p) for p in loc]
        param = ".".join(where) or None
        message = f"{param or 'The request'}: {first.get('msg', 'is not valid')}."
        return error_response(request, ClientError(422, message, param=param, code="invalid_request"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return error_response(request, ClientError(error.status_code, str(error.detail), headers=error.headers))

    @app.exception_handler(ModeldeckError)
    async def modeldeck_error(request: Request, error: ModeldeckError):
        return error_response(request, as_client_error(error, config.retry_after)
                              or ClientError(422, error.message, hint=error.hint, code="task_failed"))

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge):
        return error_response(request, error.args[0])

    @app.exception_handler(Exception)
    async def other(request: Request, error: Exception):
        known = as_client_error(error, config.retry_after)
        if known is None:
            log.exception("server error on %s", request.url.path)
            known = ClientError(500, f"The server failed: {type(error).__name__}.", code="server_error",
                                hint="This is a bug in modeldeck's server; the server log has the traceback.")
        return error_response(request, known)

    add_service_routes(app, state)
    openai_routes.add_routes(app, config)
    rerank.add_routes(app, config)  # /v1/rerank (Cohere, Jina) and /rerank (Text Embeddings Inference)
    hf.add_routes(app, config)  # last: its /models/{model_id} route takes any path under /models
    app.add_middleware(Guard, api_key=config.api_key, max_body=config.max_body_bytes)
    app.add_middleware(Timing, metrics=metrics)
    return app


def add_service_routes(app: FastAPI, state: State) -> None:
    tags = ["Service"]

    @app.get("/health", tags=tags, summary="The server is up")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", tags=tags, summary="Preloaded models are ready; which models are loaded",
             responses={503: {"description": "still preloading, or preloading failed"}})
    async def ready() -> JSONResponse:
        loaded = await anyio.to_thread.run_sync(state.models.loaded)
        ready = state.ready and all(row.get("status", "HEALTHY") == "HEALTHY" for row in loaded)
        body = {"ready": ready, "models": loaded}
        if state.preload_error:
            body["error"] = state.preload_error
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/api/ps", tags=tags, summary="The models loaded now (modeldeck ps): memory, runtime, dtype, queue")
    async def ps() -> dict:
        return {"models": await anyio.to_thread.run_sync(state.models.held)}

    @app.post("/api/stop", tags=tags, summary="Unload a model (modeldeck stop MODEL); the next call loads it again",
              responses={404: {"description": "the model is not loaded"}})
    async def stop(body: StopRequest) -> dict:
        return {"stopped": await anyio.to_thread.run_sync(state.models.stop, body.model, body.task)}

    @app.get("/metrics", tags=tags, summary="Prometheus metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics() -> Response:
        if state.metrics is None:
            raise ClientError(501, "Metrics need the prometheus-client package.",
                              hint="pip install 'modeldeck[server]'", code="missing_dependency")
        data, content_type = await anyio.to_thread.run_sync(state.metrics.render)
        return Response(data, media_type=content_type)
