"""text: {"<key>": str} or [{"generated_text": str}] (generation, summaries, translations, captions)."""

from __future__ import annotations

import json
from typing import Any

from ..jsonable import to_jsonable
from .common import as_json, shown_text, text_block, text_of
from .shapes import GENERATED, STRING
from .view import OutputView, widget_id

SCHEMA = {"anyOf": [{"type": "object", "additionalProperties": STRING, "minProperties": 1}, GENERATED]}


def text(result: Any, inputs: dict) -> str:
    if isinstance(result, dict) and len(result) == 1:
        return str(next(iter(result.values())))
    if isinstance(result, list) and result and isinstance(result[0], dict) and len(result[0]) == 1:
        return "\n\n".join(str(next(iter(r.values()))) for r in result)
    return as_json(result, inputs)


def html(result: Any, context: dict) -> str:
    if isinstance(result, list) and len(result) > 1:
        return "".join(f"<p><b>{n + 1}.</b></p>{text_block(shown_text(r))}" for n, r in enumerate(result))
    return text_block(shown_text(result))


def text_value(result: Any) -> str:
    """The text of a text result (see common.text_of); anything else as JSON."""
    found = text_of(result)
    return found if found is not None else json.dumps(to_jsonable(result), indent=2, ensure_ascii=False)


def widget(spec) -> OutputView:
    import gradio as gr

    box = gr.Textbox(label="Result", lines=6, max_lines=40, buttons=["copy"], elem_id=widget_id(spec, "text"))
    return OutputView("text", [box], lambda result, inputs: [text_value(result)])
