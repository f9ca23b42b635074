"""Pictures of results, so people can look instead of read: labelled boxes, masks in colour,
depth as a colour map. Each function takes a PIL image and returns a new RGB one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

# Distinct, readable colours (Tableau 10), cycled.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)


def colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        return ImageFont.load_default()


def draw_boxes(image, detections: Iterable[dict], width: int | None = None):
    """``image`` with each detection's box outlined and labelled "label 0.97".

    ``detections`` are object-detection results: ``{"label", "score", "box": {xmin, ymin, xmax, ymax}}``.
    Boxes of the same label share a colour.
    """
    from PIL import ImageDraw

    picture = image.convert("RGB").copy()
    draw = ImageDraw.Draw(picture)
    line = width or max(2, round(min(picture.size) / 200))
    font = _font(max(10, round(min(picture.size) / 40)))
    colours: dict[str, tuple[int, int, int]] = {}
    for det in detections:
        box = det["box"]
        rgb = colours.setdefault(det["label"], colour(len(colours)))
        xy = (box["xmin"], box["ymin"], box["xmax"], box["ymax"])
        draw.rectangle(xy, outline=rgb, width=line)
        text = f"{det['label']} {det['score']:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = box["ymin"] - th if box["ymin"] - th >= 0 else box["ymin"]
        tx = min(box["xmin"], max(0, picture.width - tw))
        draw.rectangle((tx, ty, tx + tw, ty + th), fill=rgb)
        draw.text((tx + 2 - left, ty + 2 - top), text, fill=(255, 255, 255), font=font)
    return picture


def overlay_masks(image, masks: Sequence[Any], alpha: float = 0.45, outline: bool = True):
    """``image`` with each mask (PIL image or HxW array, non-zero = inside) filled in its own colour."""
    import numpy as np
    from PIL import Image

    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    out = base.copy()
    for index, mask in enumerate(masks):
        inside = np.asarray(mask).astype(bool)
        if inside.shape != base.shape[:2]:
            raise ValueError(f"mask {index} is {inside.shape[::-1]}, the image is {base.shape[1::-1]}")
        rgb = np.array(colour(index), dtype=np.float32)
        out[inside] = out[inside] * (1 - alpha) + rgb * alpha
        if outline and inside.any():
            edge = inside & ~_erode(inside)
            out[edge] = rgb
    return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))


def _erode(mask):
    """A one-pixel erosion (4-neighbourhood), for mask outlines."""
    import numpy as np

    padded = np.pad(mask, 1, constant_values=False)
    return (
        padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )


def depth_to_gray(depth):
    """A float depth map as an 8-bit grayscale picture (min -> 0, max -> 255), as transformers'
    depth-estimation pipeline makes it."""
    import numpy as np
    from PIL import Image

    depth = np.asarray(depth, dtype=np.float32)
    low, high = float(depth.min()), float(depth.max())
    scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
    return Image.fromarray((scaled * 255).astype(np.uint8))


def _turbo(x):
    """Google's Turbo colour map (polynomial approximation by Ruofei Du), x in [0, 1] -> RGB in [0, 1]."""
    import numpy as np

    x = np.clip(x, 0.0, 1.0)[..., None]
    powers = np.concatenate([np.ones_like(x), x, x**2, x**3, x**4, x**5], axis=-1)
    coefficients = np.array(
        [
            [0.13572138, 0.09140261, 0.10667330],
            [4.61539260, 2.19418839, 12.64194608],
            [-42.66032258, 4.84296658, -60.58204836],
            [132.13108234, -14.18503333, 110.36276771],
            [-152.94239396, 4.27729857, -89.90310912],
            [59.28637943, 2.82956604, 27.34824973],
        ]
    )
    return np.clip(powers @ coefficients, 0.0, 1.0)


def depth_to_colour(depth):
    """A depth map (float array or 8-bit picture) as a Turbo colour map: high values warm, low values cool."""
    import numpy as np
    from PIL import Image

    array = np.asarray(depth, dtype=np.float32)
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return Image.fromarray((_turbo(scaled) * 255).round().astype(np.uint8))
