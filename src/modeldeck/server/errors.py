"""Errors -> HTTP: status codes, and the two body shapes (Hugging Face's and OpenAI's).

Anything a client sent that cannot be served is a 4xx naming what to change;
a 5xx only ever means the server itself failed (or is busy: 503).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import errors as e


@dataclass
class ClientError(Exception):
    """A request the server refuses: its status, message, the field at fault and what to do."""

    status: int
    message: str
    param: str | None = None
    hint: str | None = None
    code: str | None = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.message


# Most specific first: WrongModelType is an InvalidInput, RevisionNotFound a ModelNotAvailable.
STATUS: tuple[tuple[type, int, str], ...] = (
    (e.WrongModelType, 400, "wrong_model_type"),
    (e.ModelNotAvailable, 404, "model_not_found"),
    (e.UnknownTask, 400, "unknown_task"),
    (e.UnknownParameter, 400, "unknown_parameter"),
    (e.InvalidModelId, 400, "invalid_model"),
    (e.InvalidInput, 400, "invalid_input"),
    (e.TaskFailed, 422, "task_failed"),
    (e.UnsafeModel, 403, "unsafe_model"),
    (e.ModelTooLarge, 507, "model_too_large"),
    (e.ModelBusy, 503, "model_busy"),
    (e.MissingDependency, 501, "missing_dependency"),
    (e.HubUnreachable, 503, "hub_unreachable"),
)


def as_client_error(error: BaseException, retry_after: int = 1) -> ClientError | None:
    """The ClientError for a modeldeck error (None for anything else: a real server failure)."""
    if isinstance(error, ClientError):
        return error
    from ..engine import EngineClosed

    if isinstance(error, EngineClosed):
        return ClientError(503, error.message, hint=error.hint, code="model_unloaded",
                           headers={"Retry-After": str(retry_after)})
    for kind, status, code in STATUS:
        if isinstance(error, kind):
            headers = {"Retry-After": str(retry_after)} if status == 503 else None
            return ClientError(status, error.message, param=error.param, hint=error.hint,
                               code=code, headers=headers)
    return None


def hf_body(error: ClientError) -> dict:
    """Hugging Face Inference API shape: ``{"error": text}`` (plus the hint, the field, and the kind of error as
    ``error_type``, TGI's name for it: "task_failed" tells a library's failure from a refusal of the input)."""
    text = f"{error.message} {error.hint}" if error.hint else error.message
    body = {"error": text}
    if error.param:
        body["param"] = error.param
    if error.code:
        body["error_type"] = error.code
    return body


def openai_body(error: ClientError) -> dict:
    """OpenAI shape: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = "invalid_request_error" if error.status < 500 else "server_error"
    if error.status == 401:
        kind = "authentication_error"
    text = f"{error.message} {error.hint}" if error.hint else error.message
    return {"error": {"message": text, "type": kind, "param": error.param, "code": error.code}}


def is_openai_path(path: str) -> bool:
    """OpenAI routes answer errors in OpenAI's shape (also under /models/ID/v1/...)."""
    return path.startswith("/v1/") or "/v1/" in path


ERROR_SCHEMAS = {
    "hf": {
        "type": "object",
        "properties": {"error": {"type": "string"}, "param": {"type": "string"}, "error_type": {"type": "string"}},
        "required": ["error"],
    },
    "openai": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type"],
            }
        },
        "required": ["error"],
    },
}


def error_responses(dialect: str, *statuses: int) -> dict:
    """OpenAPI ``responses`` entries for the errors a route can answer."""
    text = {
        400: "bad input or parameter (named)", 401: "missing or wrong API key", 403: "model refused (unsafe)",
        404: "model not on this machine (run modeldeck pull)", 413: "request body too large",
        422: "malformed request, or input the model could not handle", 501: "a package the task needs is missing",
        503: "busy: queue full or model loading; see Retry-After", 507: "the model does not fit in memory",
    }
    schema = ERROR_SCHEMAS[dialect]
    return {s: {"description": text[s], "content": {"application/json": {"schema": schema}}} for s in statuses}


COMMON = (400, 401, 404, 413, 422, 503)
