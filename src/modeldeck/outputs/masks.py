"""masks: [{"mask", "score"}] (mask generation; segmentation adds "label")."""

from __future__ import annotations

from typing import Any

from .common import html_bar, img_tag, number, picture_context, plural, table
from .shapes import NUMBER, PNG, STRING, array, obj
from .view import OutputView, annotated_view, frame, to_pil

SCHEMA = array(obj({"mask": PNG, "score": NUMBER},
                   {"prompt": {"type": "integer", "minimum": 0}, "label": STRING}))
MAX_DRAWN = 25
context = picture_context


def items_of(result: Any) -> list:
    return result if isinstance(result, list) else result.get("masks", [])


def scored(result: Any) -> list[tuple[Any, float]]:
    """(name, score) of each scored mask: its label, else its 1-based number."""
    return [(r.get("label", n + 1), float(r["score"])) for n, r in enumerate(items_of(result))
            if isinstance(r, dict) and "score" in r]


def text(result: list[dict], inputs: dict) -> str:
    """A line a mask: its label (segmentation) or number, its score and how much of the picture it covers."""
    import numpy as np

    if not result:
        return "No masks."
    covers = [float(np.asarray(r["mask"]).mean()) for r in result]
    save = "(save them over the image with -o masks.png):"
    if "label" in result[0]:
        width = max(len(r["label"]) for r in result)
        lines = [f"{len(result)} region{'s' if len(result) != 1 else ''} {save}"]
        lines += [f"  {r['label']:<{width}}  score {r['score']:.3f}  covers {area:6.1%} of the image"
                  for r, area in zip(result, covers)]
    else:
        width, height = result[0]["mask"].size
        lines = [f"{plural(len(result), 'mask')}, {width}x{height} {save}"]
        lines += [f"  {n:>3}. score {number(r['score'], 3)}  covers {area:6.1%} of the image"
                  for n, (r, area) in enumerate(zip(result, covers), 1)]
    return "\n".join(lines)


def picture(result: Any, context: dict):
    import numpy as np
    from PIL import Image

    from ..media.draw import overlay_masks

    items = items_of(result)[:context.get("most", MAX_DRAWN)]  # None: all (a saved file)
    masks = [np.asarray(r.get("mask") if isinstance(r, dict) else r).astype(bool) for r in items]
    if not masks:
        return None
    base = context.get("picture")
    if base is None or base.size != masks[0].shape[::-1]:
        base = Image.new("RGB", masks[0].shape[::-1], (255, 255, 255))
    return overlay_masks(base, masks)


def html(result: Any, context: dict) -> str:
    drawn = picture(result, context)
    rows = [[name, number(score), html_bar(score)] for name, score in scored(result)]
    return (img_tag(drawn) if drawn is not None else "") + table(["mask", "score", ""], rows, raw={2})


def mask_array(mask: Any, size: tuple[int, int]):
    """A mask (PIL, array, or base64 PNG) as a 0..1 float array of the picture's size (w, h)."""
    import numpy as np
    from PIL import Image

    if not isinstance(mask, (Image.Image, np.ndarray)):
        mask = to_pil(mask)
    if isinstance(mask, Image.Image):
        mask = mask.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.NEAREST)
        return np.asarray(mask, dtype=np.float32) / 255.0
    array = np.asarray(mask).squeeze().astype(np.float32)
    if array.max(initial=0) > 1:
        array = array / 255.0
    if array.shape != (size[1], size[0]):
        image = Image.fromarray((array * 255).astype(np.uint8)).resize(size, Image.NEAREST)
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array


def annotated_masks(result: Any, base) -> tuple:
    """Masks -> (picture, [(0..1 array, "label (1) 0.93")]) for gr.AnnotatedImage."""
    notes = []
    for n, item in enumerate(items_of(result)):
        mask, score = (item.get("mask"), item.get("score")) if isinstance(item, dict) else (item, None)
        label = item.get("label") if isinstance(item, dict) else None  # segmentation names its masks
        name = (f"{label} ({n + 1})" if label else f"mask {n + 1}") + (f" {float(score):.2f}" if score is not None else "")
        notes.append((mask_array(mask, base.size), name))
    return base, notes


def _rows(result: Any) -> tuple[list, Any]:
    rows = [[name, round(score, 4)] for name, score in scored(result)]
    return items_of(result), frame(["mask", "score"], rows)


def widget(spec) -> OutputView:
    return annotated_view(spec, _rows, annotated_masks)
