"""ranking: [{"index", "score", "text"}], best first (rerankers)."""

from __future__ import annotations

from . import scores
from .shapes import NUMBER, OFFSET, STRING, array, obj

SCHEMA = array(obj({"index": OFFSET, "score": NUMBER, "text": STRING}))


def text(result: list[dict], inputs: dict) -> str:
    return "\n".join(f"{r['score']:+.4f}  #{r['index']}  {r['text']}" for r in result)


html = scores.html  # dicts with a "score": a ranked table of their fields
widget = scores.widget
