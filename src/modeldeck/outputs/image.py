"""image: PIL picture(s), or a generation's {"images", "nsfw", "seed", "parameters"}."""

from __future__ import annotations

from typing import Any

from ..jsonable import png_bytes
from .common import as_json, esc, img_tag
from .shapes import PNG, array
from .view import OutputView, to_pil, widget_id

SCHEMA = {"anyOf": [PNG, array(PNG)]}
MAX_PICTURES = 12
BINARY = {"schema": {"type": "string", "format": "binary"}}


def pictures_of(result: Any) -> list:
    """The PIL pictures of a result."""
    from PIL import Image

    if isinstance(result, dict):
        result = result.get("images") or []
    items = result if isinstance(result, list) else [result]
    return [i for i in items if isinstance(i, Image.Image)]


def text(result: Any, inputs: dict) -> str:
    """A generation's pictures, size and seed (the pictures themselves go to files or --json)."""
    if not (isinstance(result, dict) and "seed" in result):
        return as_json(result, inputs)
    images = result["images"]
    size = "x".join(map(str, images[0].size)) if images else "?"
    lines = [f"{len(images)} picture{'s' if len(images) != 1 else ''} ({size}), seed {result['seed']}."]
    if any(result.get("nsfw", ())):
        lines.append("Flagged by the safety checker (blacked out): " + ", ".join(
            str(n + 1) for n, bad in enumerate(result["nsfw"]) if bad))
    lines.append("Save them with -o out.png (numbered when several), or print them with --json.")
    return "\n".join(lines)


def html(result: Any, context: dict) -> str:
    pictures = pictures_of(result)
    shown = "".join(img_tag(p, 320 if len(pictures) > 1 else 640) for p in pictures[:MAX_PICTURES])
    if isinstance(result, dict) and "seed" in result:  # what makes the picture again
        flagged = sum(bool(f) for f in result.get("nsfw") or [])
        note = f", {flagged} blacked out by the safety checker" if flagged else ""
        shown += f"<div>seed {esc(result['seed'])}{note}</div>"
    return shown


def picture(result: Any, context: dict):
    pictures = pictures_of(result)
    return pictures[0] if len(pictures) == 1 else None


def images_of(result: Any) -> list:
    """The pictures in an "image" result (one, a list, or a dict holding them), from any form."""
    if isinstance(result, dict):
        for key in ("images", "image", "depth"):
            if key in result:
                return images_of(result[key])
        return []
    if isinstance(result, (list, tuple)):
        return [to_pil(r) for r in result]
    return [to_pil(result)]


def widget(spec) -> OutputView:
    import gradio as gr

    # One gallery for one picture or several: its value is the pictures themselves, so an API client gets files
    # it can download (a component switched on and off by gr.update would hand it update dicts instead).
    gallery = gr.Gallery(label="Images", columns=2, format="png", elem_id=widget_id(spec, "gallery"))
    return OutputView("image", [gallery], lambda result, inputs: [images_of(result)])


def http(result: Any, accept: str) -> tuple[bytes, str] | None:
    """The first picture as PNG, unless the client asks for JSON (None: the JSON form)."""
    if "application/json" in accept and "image/" not in accept:
        return None
    return png_bytes(result["images"][0]), "image/png"


def http_content(json_schema: dict) -> dict:
    """What an HTTP call answers, by content type: the PNG, or the JSON form when asked for."""
    return {"image/png": BINARY, "application/json": {"schema": json_schema}}
