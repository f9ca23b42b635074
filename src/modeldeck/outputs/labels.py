"""labels: [{"label", "score"}], best first (classifiers, zero-shot, audio tagging)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .common import bar, html_bar, name_of, number, table
from .shapes import NUMBER, STRING, array, obj
from .view import OutputView, shown, widget_id

SCHEMA = array(obj({"label": STRING, "score": NUMBER}))
NAME_KEYS = ("label", "text", "answer", "image", "token_str")


def text(result: list[dict], inputs: dict) -> str:
    if result and "label" not in result[0]:
        return "\n".join(_matched(r) for r in result)
    width = max((len(r["label"]) for r in result), default=0)
    return "\n".join(f"{r['label']:<{width}}  {number(r['score'])}  {bar(r['score'])}" for r in result)


def _matched(item: dict) -> str:
    """An image-text match: its score, then the text or picture (file, else 1-based position) it is for."""
    if "text" in item:
        name = item["text"]
    else:
        name = f"image {item['image'] + 1}" if isinstance(item["image"], int) else item["image"]
    cosine = f"  cosine {number(item['cosine'], 3, sign=True)}" if "cosine" in item else ""
    return f"{number(item['score'])}  {bar(item['score'])}{cosine}  {name}"


def html(result: Any, context: dict) -> str:
    groups = result if result and isinstance(result[0], list) else [result]
    out = []
    for group in groups:
        rows = [[_html_name(r), number(r["score"]), html_bar(r["score"])] for r in group]
        out.append(table(["label", "score", ""], rows, raw={2}))
    return "".join(out)


def _html_name(item: dict) -> str:
    for key in NAME_KEYS:
        if item.get(key) is not None:
            return name_of(item[key])
    return "?"


def widget(spec) -> OutputView:
    import gradio as gr

    label = gr.Label(label="Labels", num_top_classes=10, elem_id=widget_id(spec, "labels"))
    return OutputView("labels", [label], lambda result, inputs: [labels_value(result, inputs)])


def labels_value(result: Any, inputs: dict[str, Any] | None = None) -> dict[str, float]:
    """[{"label", "score"}] (or a batch of them) -> {label: score} for gr.Label.

    Items named by another key ({"text", "score"}, {"image", "score"}, {"answer", "score"}) work too.
    Items that would show the same name (two uploads both called image.jpg) get their
    position among the inputs appended, so none hides another.
    """
    if isinstance(result, dict) and "score" in result:
        result = [result]
    if result and isinstance(result[0], list):
        return {f"#{n + 1} {item_name(r)}": float(r["score"]) for n, group in enumerate(result) for r in group}
    names = unique_names(result, inputs or {})
    return {name: float(r["score"]) for name, r in zip(names, result)}


def item_name(item: dict) -> str:
    key = _name_key(item)
    return "?" if key is None else shown(item[key])


def _name_key(item: dict) -> str | None:
    for key in NAME_KEYS:
        if item.get(key) is not None:
            return key
    return next((k for k in item if k != "score"), None)


def unique_names(items: list[dict], inputs: dict[str, Any]) -> list[str]:
    """Each item's shown name; names shown more than once get " (N)", N its 1-based input position."""
    names = [item_name(r) for r in items]
    repeated = {name for name, count in Counter(names).items() if count > 1}
    if not repeated:
        return names
    given = [str(v) for v in next((v for v in inputs.values() if isinstance(v, list)), [])]
    taken: set[int] = set()
    out = []
    for item, name in zip(items, names):
        if name in repeated:
            key = _name_key(item)
            value = item.get(key) if key else None
            if isinstance(value, int) and not isinstance(value, bool):
                position = value  # already a (0-based) position
            else:
                position = next((i for i, v in enumerate(given) if v == str(value) and i not in taken), None)
                if position is None:
                    position = next(i for i in range(len(given) + len(items)) if i not in taken)
            taken.add(position)
            name = f"{name} ({position + 1})"
        out.append(name)
    return out
