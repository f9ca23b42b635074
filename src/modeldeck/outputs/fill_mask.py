"""fill-mask: [{"sequence", "score", "token", "token_str"}] per mask token (a list of them for several)."""

from __future__ import annotations

from typing import Any

from .common import html_bar, number, table
from .shapes import INTEGER, SCORE, STRING, array, obj
from .view import OutputView, frame, widget_id

CANDIDATE = obj({"sequence": STRING, "score": SCORE, "token": INTEGER, "token_str": STRING})
# one list of candidates per mask token; the list itself when the text has one mask
SCHEMA = {"anyOf": [array(CANDIDATE), array(array(CANDIDATE))]}


def groups(result: Any) -> list[list[dict]]:
    """The candidates of each mask token."""
    return result if result and isinstance(result[0], list) else [result]


def text(result: list, inputs: dict) -> str:
    blocks = []
    for group in groups(result):
        blocks.append("\n".join(f"{number(r['score'])}  {r['token_str']:<12}  {r['sequence']}" for r in group))
    return "\n\n".join(blocks)


def html(result: Any, context: dict) -> str:
    rows = [[n + 1, r["token_str"], number(r["score"]), html_bar(r["score"]), r["sequence"]]
            for n, group in enumerate(groups(result)) for r in group]
    return table(["mask", "token", "score", "", "sequence"], rows, raw={3})


def widget(spec) -> OutputView:
    import gradio as gr

    label = gr.Label(label="Candidates", num_top_classes=10, elem_id=widget_id(spec, "labels"))
    table = gr.Dataframe(label="Filled texts", interactive=False, wrap=True, elem_id=widget_id(spec, "table"))

    def fill(result, inputs):
        found = groups(result)
        several = len(found) > 1
        scores, rows = {}, []
        for n, group in enumerate(found):
            for r in group:
                key = f"mask {n + 1}: {r['token_str']}" if several else str(r["token_str"])
                scores[key] = float(r["score"])
                rows.append([n + 1, r["token_str"], round(float(r["score"]), 4), r["sequence"]])
        return [scores, frame(["mask", "token", "score", "sequence"], rows)]

    return OutputView("fill-mask", [label, table], fill)
