"""boxes: [{"label", "score", "box": {"xmin", "ymin", "xmax", "ymax"}}] (object detection)."""

from __future__ import annotations

from typing import Any

from .common import img_tag, number, picture_context, table
from .shapes import SCORE, STRING, array, obj
from .view import OutputView, annotated_view, frame

CORNERS = ("xmin", "ymin", "xmax", "ymax")
PIXEL = {"type": "integer", "minimum": 0}
SCHEMA = array(obj({"label": STRING, "score": SCORE, "box": obj({k: PIXEL for k in CORNERS})}))
COLUMNS = ["label", "score", *CORNERS]


context = picture_context


def best_first(result: list[dict]) -> list[dict]:
    return sorted(result, key=lambda r: -float(r.get("score", 0)))


def box_of(box: Any) -> tuple[int, int, int, int]:
    """A box ({"xmin", ...} or [x1, y1, x2, y2]) as whole pixels."""
    if isinstance(box, dict):
        return tuple(int(round(float(box[k]))) for k in CORNERS)
    return tuple(int(round(float(v))) for v in box[:4])


def text(result: list[dict], inputs: dict) -> str:
    width = max((len(r["label"]) for r in result), default=0)
    lines = []
    for r in result:
        b = r["box"]
        lines.append(f"{r['label']:<{width}}  {number(r['score'], 3)}  "
                     f"({b['xmin']}, {b['ymin']}) - ({b['xmax']}, {b['ymax']})")
    return "\n".join(lines)


def picture(result: Any, context: dict):
    from ..media.draw import draw_boxes

    base = context.get("picture")
    return None if base is None else draw_boxes(base, result)


def html(result: Any, context: dict) -> str:
    drawn = picture(result, context)
    rows = [[r.get("label"), number(r.get("score", 0)), *box_of(r["box"])] for r in best_first(result)]
    return (img_tag(drawn) if drawn is not None else "") + table(COLUMNS, rows)


def annotated_boxes(result: list[dict], base) -> tuple:
    """[{"label", "score", "box"}] -> (picture, [((x1, y1, x2, y2), "label 0.93")]) for gr.AnnotatedImage."""
    return base, [(box_of(r["box"]), f"{r.get('label', 'object')} {float(r.get('score', 0)):.2f}") for r in result]


def _rows(result: list[dict]) -> tuple[list, Any]:
    best = best_first(result)
    rows = [[r.get("label"), round(float(r.get("score", 0)), 4), *box_of(r["box"])] for r in best]
    return best, frame(COLUMNS, rows)


def widget(spec) -> OutputView:
    return annotated_view(spec, _rows, annotated_boxes)
