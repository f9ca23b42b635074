"""What every output kind's forms share: numbers and bars for the terminal, HTML pieces for notebooks,
the names results give their items. Nothing heavy is imported."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from ..jsonable import png_bytes, to_jsonable

MAX_ROWS = 50  # rows shown in a notebook table; the value itself keeps every item

# -- terminal text -------------------------------------------------------------------------------


def number(value: float, digits: int = 4, sign: bool = False) -> str:
    """``value`` with ``digits`` decimals, never "-0.000": a tiny negative score rounds to plain zero."""
    text = f"{float(value):{'+' if sign else ''}.{digits}f}"
    if text.startswith("-") and not text.strip("-0."):
        text = ("+" if sign else "") + text[1:]
    return text


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 mask', '3 masks' (``many`` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def bar(score: float, width: int = 20) -> str:
    """A 0..1 score as a bar of block characters."""
    filled = max(0, min(width, round(score * width)))
    return "█" * filled + "·" * (width - filled)


def as_json(result: Any, inputs: dict | None = None) -> str:
    """The result's JSON form, indented: the terminal text of kinds with no text of their own."""
    return json.dumps(to_jsonable(result), indent=2, ensure_ascii=False)


TEXT_KEYS = ("content", "generated_text", "translation_text", "summary_text", "text", "answer")


def text_of(result: Any) -> str | None:
    """The text of a text-like result: a string, {"content" / "generated_text" / ...: text}, a dict with
    one text value, or a list of those (joined by blank lines); None for anything else."""
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        for key in TEXT_KEYS:
            if isinstance(result.get(key), str):
                return result[key]
        texts = [v for v in result.values() if isinstance(v, str)]
        return texts[0] if len(texts) == 1 else None
    if isinstance(result, list) and result:
        parts = [text_of(r) for r in result]
        return None if any(p is None for p in parts) else "\n\n".join(parts)
    return None


def first_list(inputs: dict, default: Any = None) -> Any:
    """The call's first list input (the candidates or texts that results are given for)."""
    return next((v for v in inputs.values() if isinstance(v, list)), default)


def name_of(value: Any) -> str:
    """How an item is named in a table: a picture by its file, anything else as text."""
    if type(value).__module__.startswith("PIL."):
        return str(getattr(value, "info", {}).get("source", "image"))
    return str(value)


def picture_context(inputs: dict) -> dict:
    """The call's first input picture, for drawing boxes and masks on."""
    for value in inputs.values():
        value = value[0] if isinstance(value, list) and value else value
        if type(value).__module__.startswith("PIL."):
            return {"picture": value}
    return {}


# -- notebook HTML -------------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def img_tag(picture: Any, max_width: int = 640) -> str:
    data = base64.b64encode(png_bytes(picture)).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" width="{picture.width}" height="{picture.height}" '
        f'style="max-width:{max_width}px;height:auto" alt="result picture">'
    )


def table(columns: list[str], rows: list[list[Any]], raw: set[int] = frozenset()) -> str:
    """An HTML table; cells in columns ``raw`` are HTML already, the rest are escaped."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows[:MAX_ROWS]:
        cells = "".join(f"<td>{cell if i in raw else esc(cell)}</td>" for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    more = f"<p>... and {len(rows) - MAX_ROWS} more</p>" if len(rows) > MAX_ROWS else ""
    return f'<table class="modeldeck"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def html_bar(score: float) -> str:
    """A small horizontal bar for a 0..1 score."""
    width = max(0.0, min(1.0, float(score))) * 100
    return (
        '<div style="background:#e5e7eb;width:160px;height:10px">'
        f'<div style="background:#4f46e5;width:{width:.1f}%;height:10px"></div></div>'
    )


def text_block(text: str) -> str:
    return f'<div style="white-space:pre-wrap">{esc(text)}</div>'


def shown_text(result: Any) -> str:
    """The text of a text-like result, else its printed form."""
    text = text_of(result)
    return text if text is not None else str(result)


def clock(seconds: Any) -> str:
    """Seconds as m:ss.ss ("" for an open end)."""
    if seconds is None:
        return ""
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes):d}:{secs:05.2f}"
