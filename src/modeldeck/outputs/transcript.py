"""transcript: {"text", "chunks": [{"text", "timestamp": [start, end]}]} (speech recognition)."""

from __future__ import annotations

from typing import Any

from .common import clock, table, text_block
from .shapes import NUMBER, STRING, array, obj
from .view import OutputView, frame, widget_id

SCHEMA = obj({
    "text": STRING,
    "chunks": array(obj({"text": STRING, "timestamp": {**array(NUMBER), "minItems": 2, "maxItems": 2}})),
})
SUBTITLE_FORMATS = ("srt", "vtt")


def segments(result: Any) -> list[tuple[Any, Any, str]]:
    """(start, end, text) of each timed chunk; an open end is None."""
    out = []
    for chunk in result.get("chunks") or []:
        start, end = (list(chunk.get("timestamp") or []) + [None, None])[:2]
        out.append((start, end, str(chunk.get("text", "")).strip()))
    return out


def html(result: Any, context: dict) -> str:
    rows = [[clock(start), clock(end), words] for start, end, words in segments(result)]
    return text_block(str(result.get("text", "")).strip()) + (table(["start", "end", "text"], rows) if rows else "")


def transcript_text(result: Any) -> str:
    """The transcript's text, or its subtitles when a subtitle format was asked for (the ``format`` param)."""
    fmt = getattr(result, "format", None)
    if fmt in SUBTITLE_FORMATS and callable(getattr(result, "to", None)):
        return result.to(fmt).rstrip("\n")
    return str(result.get("text", "")).strip()


def _seconds(value: Any) -> Any:
    return None if value is None else round(float(value), 2)


def widget(spec) -> OutputView:
    import gradio as gr

    box = gr.Textbox(label="Transcript", lines=6, max_lines=40, buttons=["copy"], elem_id=widget_id(spec, "text"))
    table = gr.Dataframe(label="Segments", interactive=False, wrap=True, elem_id=widget_id(spec, "table"))

    def fill(result, inputs):
        if isinstance(result, str):
            return [result, None]
        rows = [[_seconds(start), _seconds(end), words] for start, end, words in segments(result)]
        return [transcript_text(result), frame(["start (s)", "end (s)", "text"], rows) if rows else None]

    return OutputView("transcript", [box, table], fill)
