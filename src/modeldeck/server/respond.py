"""Results as HTTP answers: JSON through ``to_jsonable``, audio and pictures as their bytes."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

from ..jsonable import png_base64, to_jsonable

IMAGE_TASKS = ("text-to-image", "image-to-image", "inpainting")


def notes_header(notes: list[str]) -> dict[str, str]:
    """Notices (input truncated, chunked...) as a header the client can read beside the result."""
    return {"X-Modeldeck-Notices": json.dumps(notes, ensure_ascii=True)} if notes else {}


def json_response(value: Any, notes: list[str] | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse(to_jsonable(value), status_code=status, headers=notes_header(notes or []))


def png_bytes(image) -> bytes:
    import base64

    return base64.b64decode(png_base64(image))


def hf_result(task: str, result: Any, accept: str, notes: list[str]) -> Response:
    """A task's result in the shape the Hugging Face client parses."""
    headers = notes_header(notes)
    if task == "text-to-speech":
        from .audio_out import encode, from_accept

        data, content_type = encode(result["audio"], result["sampling_rate"], from_accept(accept))
        return Response(data, media_type=content_type, headers=headers)
    if task in IMAGE_TASKS and not _wants_json(accept):
        return Response(png_bytes(result["images"][0]), media_type="image/png", headers=headers)
    if task in ("text-classification", "summarization", "translation"):
        result = [result]  # the hosted API answers one list per input
    return json_response(result, notes)


def _wants_json(accept: str) -> bool:
    return "application/json" in accept and "image/" not in accept
