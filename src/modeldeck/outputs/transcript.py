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


def stamp(seconds: float, separator: str) -> str:
    """A subtitle timestamp: hh:mm:ss, then ``separator`` (SRT ",", WebVTT ".") and milliseconds."""
    millis = int(round(max(0.0, seconds) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(chunks: list[dict]) -> str:
    """Timed chunks as SRT subtitles."""
    blocks = []
    for number, chunk in enumerate(chunks, 1):
        start, end = chunk["timestamp"]
        blocks.append(f"{number}\n{stamp(start, ',')} --> {stamp(end, ',')}\n{chunk['text']}\n")
    return "\n".join(blocks)


def vtt(chunks: list[dict]) -> str:
    """Timed chunks as WebVTT subtitles."""
    blocks = ["WEBVTT\n"]
    for chunk in chunks:
        start, end = chunk["timestamp"]
        blocks.append(f"{stamp(start, '.')} --> {stamp(end, '.')}\n{chunk['text']}\n")
    return "\n".join(blocks)


def subtitles(chunks: list[dict], fmt: str) -> str:
    """Timed chunks as subtitles of ``fmt`` ("srt" or "vtt")."""
    return (srt if fmt == "srt" else vtt)(chunks)


def transcript_text(result: Any) -> str:
    """The transcript's text, or its subtitles when a subtitle format was asked for (the ``format`` param)."""
    fmt = getattr(result, "format", None)
    if fmt in SUBTITLE_FORMATS:
        return subtitles(result["chunks"], fmt).rstrip("\n")
    return str(result.get("text", "")).strip()


def text(result: Any, inputs: dict) -> str:
    shown = transcript_text(result)
    if shown or getattr(result, "format", None) in SUBTITLE_FORMATS:
        return shown  # subtitles of silence stay empty, as their file is
    return "(no speech found)"


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
