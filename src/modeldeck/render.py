"""Readable terminal text for results, chosen by the task's output kind."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .jsonable import to_jsonable


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
    filled = max(0, min(width, round(score * width)))
    return "█" * filled + "·" * (width - filled)


def labels(result: list[dict], inputs: dict) -> str:
    width = max((len(r["label"]) for r in result), default=0)
    return "\n".join(f"{r['label']:<{width}}  {number(r['score'])}  {bar(r['score'])}" for r in result)


def scores(result: list[float], inputs: dict) -> str:
    candidates = next((v for v in inputs.values() if isinstance(v, list)), [""] * len(result))
    ranked = sorted(zip(result, candidates), key=lambda pair: -pair[0])
    return "\n".join(f"{number(score, sign=True)}  {text}" for score, text in ranked)


def vectors(result: list[list[float]], inputs: dict) -> str:
    texts = next(iter(inputs.values()), [])
    lines = []
    for text, vector in zip(texts, result):
        head = ", ".join(number(x, sign=True) for x in vector[:4])
        lines.append(f"[{head}, ...] ({len(vector)} dims)  {text}")
    return "\n".join(lines)


def fill_mask(result: list, inputs: dict) -> str:
    groups = result if result and isinstance(result[0], list) else [result]
    blocks = []
    for group in groups:
        blocks.append("\n".join(f"{number(r['score'])}  {r['token_str']:<12}  {r['sequence']}" for r in group))
    return "\n\n".join(blocks)


def text(result: Any, inputs: dict) -> str:
    if isinstance(result, dict) and len(result) == 1:
        return str(next(iter(result.values())))
    if isinstance(result, list) and result and isinstance(result[0], dict) and len(result[0]) == 1:
        return "\n\n".join(str(next(iter(r.values()))) for r in result)
    return as_json(result, inputs)


def entities(result: list[dict], inputs: dict) -> str:
    if not result:
        return "No entities found."
    names = [r.get("entity_group", r.get("entity", "")) for r in result]
    width = max(len(n) for n in names)
    return "\n".join(f"{name:<{width}}  {r['score']:.4f}  {r['start']:>5}-{r['end']:<5}  {r['word']}"
                     for name, r in zip(names, result))


def ranking(result: list[dict], inputs: dict) -> str:
    return "\n".join(f"{r['score']:+.4f}  #{r['index']}  {r['text']}" for r in result)


def as_json(result: Any, inputs: dict) -> str:
    return json.dumps(to_jsonable(result), indent=2, ensure_ascii=False)


RENDERERS: dict[str, Callable[[Any, dict], str]] = {
    "labels": labels,
    "scores": scores,
    "vectors": vectors,
    "fill-mask": fill_mask,
    "text": text,
    "entities": entities,
    "ranking": ranking,
}


def render(kind: str, result: Any, inputs: dict) -> str:
    """Terminal text for ``result`` of an output ``kind``; JSON when no renderer fits."""
    return RENDERERS.get(kind, as_json)(result, inputs)


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
