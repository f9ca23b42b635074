"""Turn results into JSON-ready values: arrays to lists, pictures to base64 PNG."""

from __future__ import annotations

import base64
import io
from typing import Any


def png_bytes(image: Any) -> bytes:
    """A PIL image as PNG file bytes (the one PNG encoder: JSON, notebooks and HTTP answers use it)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64(image: Any) -> str:
    """A PIL image as base64-encoded PNG."""
    return base64.b64encode(png_bytes(image)).decode("ascii")


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy arrays, tensors, PIL images and bytes made JSON-friendly."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if type(value).__module__.startswith("PIL."):
        return png_base64(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    return str(value)
