"""Building blocks of the JSON Schemas (2020-12) that describe results as ``to_jsonable`` makes them."""

from __future__ import annotations

from typing import Any


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON object with these keys (and no others)."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


NUMBER, INTEGER, STRING = {"type": "number"}, {"type": "integer"}, {"type": "string"}
PNG = {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"}
SCORE = {"type": "number", "minimum": 0, "maximum": 1}
OFFSET = {"type": "integer", "minimum": 0}
GENERATED = array(obj({"generated_text": STRING}))
