"""What the output kinds' UI widgets share: the view a kind builds, tables, pictures from any form.

gradio, pandas and PIL are imported only inside functions: the kinds' other forms never load them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec import TaskSpec

MAX_OVERLAYS = 25  # an annotated picture shows the best ones; the table lists them all


@dataclass
class OutputView:
    """The widgets that show one output kind, and how a result fills them."""

    kind: str
    components: list[Any]  # gradio components
    fill: Callable[[Any, dict[str, Any]], list[Any]]


def widget_id(spec: TaskSpec, name: str) -> str:
    """A stable DOM id for an output widget of a task (used by the browser tests)."""
    return "-".join([spec.name, "out", name]).replace("_", "-")


def frame(columns: list[str], rows: list[list[Any]]):
    """A table for gr.Dataframe."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def shown(value: Any) -> str:
    """A value as a table shows it: a file by its name."""
    text = str(value)
    return Path(text).name if len(text) < 4096 and Path(text).is_file() else text


def to_pil(image: Any):
    """A PIL image from a PIL image, an array, a path or base64 PNG."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, Path)):
        text = str(image)
        if len(text) < 4096 and Path(text).is_file():
            return Image.open(text)
        import base64
        import io

        return Image.open(io.BytesIO(base64.b64decode(text)))
    import numpy as np

    array = np.asarray(image)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        array = ((array - low) / (high - low or 1.0) * 255).astype(np.uint8)
    return Image.fromarray(array.astype(np.uint8))


def base_image(inputs: dict[str, Any], spec: TaskSpec):
    """The task's input picture (the first image input), as RGB."""
    for item in spec.inputs:
        if item.kind == "image" and inputs.get(item.name) is not None:
            value = inputs[item.name]
            return to_pil(value[0] if isinstance(value, list) else value).convert("RGB")
    return None


def annotated_view(spec: TaskSpec, rows_of: Callable[[Any], tuple[list, Any]],
                   annotate: Callable[[list, Any], tuple]) -> OutputView:
    """A picture with boxes or masks over it, and their table: ``rows_of(result)`` gives the items best
    first and the table, ``annotate(items, picture)`` the gr.AnnotatedImage value."""
    import gradio as gr

    picture = gr.AnnotatedImage(label="Result", elem_id=widget_id(spec, "annotated"))
    table = gr.Dataframe(label="Details", interactive=False, wrap=True, elem_id=widget_id(spec, "table"))

    def fill(result, inputs):
        base = base_image(inputs, spec)
        items, details = rows_of(result)
        # the value itself, not a gr.update: an API client gets the picture and masks as files (gradio colours
        # each label)
        return [annotate(items[:MAX_OVERLAYS], base) if base is not None else None, details]

    return OutputView(spec.output, [picture, table], fill)


def json_view(spec: TaskSpec) -> OutputView:
    """The result's JSON form, for kinds with no widget of their own."""
    import gradio as gr

    from ..jsonable import to_jsonable

    box = gr.JSON(label="Result", elem_id=widget_id(spec, "json"))
    return OutputView(spec.output, [box], lambda result, inputs: [to_jsonable(result)])
