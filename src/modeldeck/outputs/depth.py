"""depth: {"depth": 8-bit picture, "min", "max"}, the float map as ``predicted_depth`` (depth estimation)."""

from __future__ import annotations

from typing import Any

from .common import img_tag
from .shapes import NUMBER, PNG, obj
from .view import OutputView, to_pil, widget_id

# the 8-bit picture maps min to 0 and max to 255; the float map stays out of JSON
SCHEMA = obj({"depth": PNG, "min": NUMBER, "max": NUMBER})


def text(result: Any, inputs: dict) -> str:
    width, height = result["depth"].size
    return (
        f"Depth map {width}x{height}, values {result['min']:.4g} to {result['max']:.4g} "
        "(save it with -o depth.png, or --json for the 8-bit picture)."
    )


def picture(result: Any, context: dict):
    from ..media.draw import depth_to_colour

    depth = getattr(result, "predicted_depth", None)
    if depth is None:
        depth = result.get("predicted_depth") if "predicted_depth" in result else result.get("depth")
    return None if depth is None else depth_to_colour(depth)


def html(result: Any, context: dict) -> str:
    drawn = picture(result, context)
    low, high = result.get("min"), result.get("max")
    scale = f"<div>depth from {float(low):.3g} (blue) to {float(high):.3g} (red)</div>" if low is not None else ""
    return (img_tag(drawn) if drawn is not None else "") + scale


def widget(spec) -> OutputView:
    import gradio as gr

    shown = gr.Image(label="Depth map", type="pil", interactive=False, format="png", elem_id=widget_id(spec, "image"))

    def fill(result, inputs):
        if isinstance(result, dict):
            depth = result.get("depth")
            if depth is None:
                depth = result.get("predicted_depth")
            return [to_pil(depth).convert("L") if depth is not None else None]
        return [to_pil(result).convert("L")]

    return OutputView("depth", [shown], fill)
