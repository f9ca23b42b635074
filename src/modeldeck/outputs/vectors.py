"""vectors: [[float]], one embedding per text."""

from __future__ import annotations

import math
from typing import Any

from ..jsonable import to_jsonable
from .common import first_list, name_of, number, table
from .shapes import NUMBER, array
from .view import OutputView, frame, shown, widget_id

SCHEMA = array(array(NUMBER))


def text(result: list[list[float]], inputs: dict) -> str:
    texts = next(iter(inputs.values()), [])
    lines = []
    for text, vector in zip(texts, result):
        head = ", ".join(number(x, sign=True) for x in vector[:4])
        lines.append(f"[{head}, ...] ({len(vector)} dims)  {text}")
    return "\n".join(lines)


def transport(result: Any) -> Any:
    """Vectors as one float32 array: Ray ships its buffer as is, and the ingress writes it out once
    (a list of Python floats would be pickled, unpickled and converted again on the way)."""
    if isinstance(result, list) and result and isinstance(result[0], list):
        import numpy as np

        return np.asarray(result, dtype="<f4")
    return result


def context(inputs: dict) -> dict:
    names = first_list(inputs)
    return {} if names is None else {"names": [name_of(v) for v in names]}


def summary(vector: Any) -> tuple[int, float, str]:
    """A vector's dimensions, norm and first values."""
    values = [float(x) for x in vector]
    head = ", ".join(number(x, sign=True) for x in values[:6])
    return len(values), math.sqrt(sum(x * x for x in values)), f"[{head}, ...]"


def html(result: Any, context: dict) -> str:
    vectors = result if hasattr(result[0], "__len__") else [result]  # one vector, or one per text
    names = context.get("names") or [""] * len(vectors)
    rows = []
    for name, vector in zip([*names, *[""] * len(vectors)], vectors):
        dims, norm, head = summary(vector)
        rows.append([name, dims, f"{norm:.4f}", head])
    return table(["text", "dims", "norm", "first values"], rows)


def widget(spec) -> OutputView:
    import gradio as gr

    table = gr.Dataframe(label="Vectors", interactive=False, wrap=True, elem_id=widget_id(spec, "vectors"))
    full = gr.JSON(label="Full vectors", elem_id=widget_id(spec, "json"))

    def fill(result, inputs):
        texts = first_list(inputs) or list(inputs.values())
        vectors = to_jsonable(result)
        if vectors and not isinstance(vectors[0], list):
            vectors = [vectors]
        rows = []
        for text, vector in zip([*texts, *[""] * len(vectors)], vectors):
            dims, norm, head = summary(vector)
            rows.append([shown(text), dims, round(norm, 4), head])
        return [frame(["text", "dims", "norm", "first values"], rows), vectors]

    return OutputView("vectors", [table, full], fill)
