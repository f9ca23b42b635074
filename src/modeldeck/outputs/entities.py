"""entities: [{"entity_group" (or "entity"), "score", "word", "start", "end"}], in text order (NER)."""

from __future__ import annotations

from typing import Any

from .common import esc, number, table
from .shapes import OFFSET, SCORE, STRING
from .view import OutputView, frame, widget_id

# a grouped entity ("entity_group"), or with aggregation "none" a token ("entity", "index")
ENTITY = {
    "type": "object",
    "properties": {"entity_group": STRING, "entity": STRING, "score": SCORE, "word": STRING, "start": OFFSET,
                   "end": OFFSET, "index": OFFSET},
    "required": ["score", "word", "start", "end"],
    "oneOf": [{"required": ["entity_group"]}, {"required": ["entity", "index"]}],
    "additionalProperties": False,
}
SCHEMA = {"type": "array", "items": ENTITY}
COLUMNS = ["entity", "word", "score", "start", "end"]


def name(item: dict) -> str:
    return item.get("entity_group", item.get("entity"))


def text(result: list[dict], inputs: dict) -> str:
    if not result:
        return "No entities found."
    names = [r.get("entity_group", r.get("entity", "")) for r in result]
    width = max(len(n) for n in names)
    return "\n".join(f"{n:<{width}}  {r['score']:.4f}  {r['start']:>5}-{r['end']:<5}  {r['word']}"
                     for n, r in zip(names, result))


def context(inputs: dict) -> dict:
    return {"text": inputs["text"]} if isinstance(inputs.get("text"), str) else {}


def html(result: Any, context: dict) -> str:
    """The text with each entity marked and labelled, then the entities as a table."""
    text, marked, at = context.get("text"), [], 0
    rows = [[name(r), r["word"], number(r["score"]), r["start"], r["end"]] for r in result]
    if text:
        for r in sorted(result, key=lambda r: r["start"]):
            if r["start"] < at:
                continue  # overlapping tokens (aggregation "none" of one word) are marked once
            label = name(r)
            marked.append(esc(text[at : r["start"]]))
            marked.append(f'<mark title="{esc(label)} {number(r["score"])}">{esc(text[r["start"] : r["end"]])}'
                          f"<sub>{esc(label)}</sub></mark>")
            at = r["end"]
        marked.append(esc(text[at:]))
    shown = f'<div style="white-space:pre-wrap">{"".join(marked)}</div>' if text else ""
    return shown + table(COLUMNS, rows)


def widget(spec) -> OutputView:
    import gradio as gr

    marked = gr.HighlightedText(label="Entities", combine_adjacent=False, elem_id=widget_id(spec, "entities"))
    table = gr.Dataframe(label="Details", interactive=False, wrap=True, elem_id=widget_id(spec, "table"))

    def fill(result, inputs):
        spans = [{"entity": name(r), "start": r["start"], "end": r["end"]} for r in result]
        rows = [[name(r), r["word"], round(float(r["score"]), 4), r["start"], r["end"]] for r in result]
        return [{"text": inputs.get("text", ""), "entities": spans}, frame(COLUMNS, rows)]

    return OutputView("entities", [marked, table], fill)
