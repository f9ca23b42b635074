"""Results as HTTP answers: the output kind's file (speech, a picture) where it answers in one, else JSON
through ``to_jsonable``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

from .. import outputs
from ..jsonable import to_jsonable

# Tasks the hosted API answers with one list per input, where modeldeck gives the result itself.
ONE_LIST_PER_INPUT = ("text-classification", "summarization", "translation")


def notes_header(notes: list[str]) -> dict[str, str]:
    """Notices (input truncated, chunked...) as a header the client can read beside the result."""
    return {"X-Modeldeck-Notices": json.dumps(notes, ensure_ascii=True)} if notes else {}


def json_response(value: Any, notes: list[str] | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse(to_jsonable(value), status_code=status, headers=notes_header(notes or []))


def hf_result(spec, result: Any, accept: str, notes: list[str]) -> Response:
    """A task's result in the shape the Hugging Face client parses."""
    body = outputs.http_body(spec.output, result, accept)
    if body is not None:
        data, content_type = body
        return Response(data, media_type=content_type, headers=notes_header(notes))
    if spec.name in ONE_LIST_PER_INPUT:
        result = [result]
    return json_response(result, notes)


def hf_content(spec, json_schema: dict) -> dict:
    """What a successful call answers, by content type (OpenAPI), given the result's JSON Schema."""
    if spec.name in ONE_LIST_PER_INPUT:
        json_schema = {"type": "array", "items": json_schema, "minItems": 1, "maxItems": 1}
    return outputs.http_content(spec.output, json_schema)
