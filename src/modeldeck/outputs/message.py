"""message: {"role": "assistant", "content"} (chat). The chat tab shows a chat window, not this widget."""

from __future__ import annotations

from typing import Any

from . import text as text_kind
from .common import esc, shown_text, text_block
from .shapes import STRING, obj

SCHEMA = obj({"role": {"const": "assistant"}, "content": STRING})


def text(result: Any, inputs: dict) -> str:
    return shown_text(result)


def html(result: Any, context: dict) -> str:
    return f"<p><b>{esc(result.get('role', 'assistant'))}:</b></p>{text_block(shown_text(result))}"


widget = text_kind.widget
