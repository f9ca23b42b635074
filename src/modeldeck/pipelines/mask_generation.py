"""mask-generation: segment things in an image with SAM (SlimSAM by default).

With point prompts (x, y, each foreground or background) and/or box prompts,
SAM returns candidate masks for the object you pointed at, each with the IoU
the model predicts for it. With no prompt it segments everything: a grid of
points over the whole image, batched through SAM's prompt encoder and mask
decoder on one image embedding, masks kept by predicted IoU and stability,
then overlapping ones removed (mask NMS, in torch: transformers' own
automatic-mask post-processing needs torchvision).

Coordinates are in the input image's pixels; masks come back at its size, as
1-bit PIL images (``numpy.asarray(mask)`` gives a boolean array).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec
from ..task import Step
from ._vision import DOWNSCALE, DRAWN_SUFFIXES, VisionTask

FOREGROUND = {"1", "fg", "foreground", "+", "pos", "positive", "true", "yes"}
BACKGROUND = {"0", "bg", "background", "-", "neg", "negative", "false", "no"}


def _numbers(value: Any, name: str) -> list[float]:
    """Flatten '[[x, y], ...]', '["x,y", ...]', '[x, y, ...]' or 'x,y' into numbers."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    flat: list[Any] = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for sub in item:
                walk(sub)
        elif isinstance(item, str):
            flat.extend(part for part in item.replace(";", ",").replace(" ", ",").split(",") if part)
        else:
            flat.append(item)

    walk(list(value) if not isinstance(value, (list, tuple)) and hasattr(value, "tolist") else value)
    numbers = []
    for item in flat:
        try:
            numbers.append(float(item))
        except (TypeError, ValueError):
            raise InvalidInput(f"{name} must be numbers (pixel coordinates); {item!r} is not one.", param=name) from None
    return numbers


class MaskGeneration(VisionTask):
    spec = TaskSpec(
        name="mask-generation",
        summary="Segment objects with SAM: point or box prompts, or every object when no prompt is given.",
        default_model="Zigeng/SlimSAM-uniform-77",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="masks",
        output_help="masks at the image's size with predicted IoU scores; -o overlays them",
        params=(
            Param(
                "points", str, None, "point prompts as x,y in pixels (repeat for more points of one object)", many=True,
                item="point", stage="preprocess",
            ),
            Param(
                "point_labels", str, None, "per point: 1/foreground or 0/background [default: all foreground]",
                many=True, stage="preprocess",
            ),
            Param(
                "boxes", str, None, "box prompts as xmin,ymin,xmax,ymax in pixels (one object per box)", many=True,
                item="box", stage="preprocess",
            ),
            Param("multimask", bool, True, "three candidate masks per prompt (off: SAM's single best guess)"),
            Param(
                "points_per_side", int, 16, "no prompt: a grid of this many points per side", min=1, stage="preprocess",
                limit="grid",
            ),
            Param("points_per_batch", int, 64, "no prompt: grid points decoded per batch", min=1, limit="batch",
                  stage="preprocess"),
            Param("pred_iou_thresh", float, 0.88, "no prompt: keep masks with predicted IoU at least this", min=0, max=1),
            Param("stability_score_thresh", float, 0.95, "no prompt: keep masks at least this stable", min=0, max=1),
            Param(
                "nms_thresh", float, 0.7, "no prompt: drop masks overlapping a better one more than this (IoU)", min=0,
                max=1, stage="postprocess",
            ),
            DOWNSCALE,
        ),
        modality="vision",
        model_types=("sam", "sam_hq"),
        examples=({"image": "cats.png", "points": ["450,300"]},),
        nothing_found="No masks (with no prompt, lower --pred-iou-thresh / --stability-score-thresh to keep more).",
    )
    output_suffixes = DRAWN_SUFFIXES

    max_aspect = 100

    def load(self) -> None:
        from transformers import SamModel, SamProcessor

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(SamProcessor, self.model_path)
        self.model = load_model(SamModel, self.model_path, self.device)

    # -- prompts ---------------------------------------------------------------------------------

    def validate(self, inputs, params) -> None:
        for name, example in (("points", "450,300"), ("boxes", "75,275,1725,850")):
            given = params[name]
            if given not in (None, [], ()) and not _numbers(given, name):  # [''] is no prompt, not "segment everything"
                raise InvalidInput(f"{name} is empty: {given!r} holds no coordinates.",
                                   f"Give pixel coordinates (e.g. --{name} {example}), or leave {name} out to segment "
                                   "everything.", param='points')
        coords = _numbers(params["points"], "points")
        if len(coords) % 2:
            raise InvalidInput(f"points must come in x,y pairs; got {len(coords)} numbers.", "Example: --points 450,300",
                               param="points")
        points = [coords[i : i + 2] for i in range(0, len(coords), 2)]
        labels = self._labels(params["point_labels"], len(points))
        flat = _numbers(params["boxes"], "boxes")
        if len(flat) % 4:
            raise InvalidInput(
                f"boxes must come as xmin,ymin,xmax,ymax; got {len(flat)} numbers.", "Example: --boxes 75,275,1725,850",
                param="boxes",
            )
        boxes = [flat[i : i + 4] for i in range(0, len(flat), 4)]
        if points and len(boxes) > 1:
            raise InvalidInput(
                "Points go with at most one box (they describe the same object).",
                "Give several boxes alone, or points with one box.", param='boxes')
        super().validate(inputs, params)
        width, height = inputs["image"].size
        for x, y in points:
            if not (0 <= x < width and 0 <= y < height):
                raise InvalidInput(
                    f"The point ({x:g}, {y:g}) is outside the {width}x{height} image.",
                    f"Points are x,y in pixels: x from 0 to {width - 1}, y from 0 to {height - 1}.", param='points')
        for xmin, ymin, xmax, ymax in boxes:
            if not (0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height):
                raise InvalidInput(
                    f"The box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) is not inside the {width}x{height} image "
                    "with xmin < xmax and ymin < ymax.",
                    "Boxes are xmin,ymin,xmax,ymax in pixels.", param='boxes')
        params["points"], params["point_labels"], params["boxes"] = points, labels, boxes

    @staticmethod
    def _labels(value, count: int) -> list[int]:
        if value is None or value == []:
            return [1] * count
        items = [value] if isinstance(value, (str, int)) else list(value)
        words = [w for item in items for w in (item.split(",") if isinstance(item, str) else [item])]
        labels = []
        for word in words:
            key = str(word).strip().lower()
            if key in FOREGROUND:
                labels.append(1)
            elif key in BACKGROUND:
                labels.append(0)
            else:
                raise InvalidInput(f"point label {word!r} is neither foreground (1) nor background (0).", param='point_labels')
        if not count:
            raise InvalidInput("point_labels were given without points.", "Give the points with --points x,y.", param='point_labels')
        if len(labels) != count:
            raise InvalidInput(f"{len(labels)} point labels for {count} points: give one label per point.", param='point_labels')
        return labels

    # -- running ---------------------------------------------------------------------------------

    def preprocess(self, inputs, points=(), point_labels=(), boxes=(), points_per_side=16, **_):
        image = inputs["image"]
        prompt: dict[str, Any] = {}
        if points:
            prompt["input_points"] = [[points]]
            prompt["input_labels"] = [[point_labels]]
        if boxes:
            prompt["input_boxes"] = [boxes]
        automatic = not prompt
        if automatic:  # a grid of single-point prompts over the whole image
            width, height = image.size
            n = points_per_side
            grid = [[[(i + 0.5) * width / n, (j + 0.5) * height / n]] for j in range(n) for i in range(n)]
            prompt["input_points"] = [grid]
        return automatic, self.processor(images=image, return_tensors="pt", **prompt)

    def plan(self, inputs, params, emit=None):
        """Prompted: one pass. Automatic: the image embedding (batched with other calls' pictures), then
        the grid's point batches, each scheduled on its own (so other calls go between them), then the
        masks kept overall (mask NMS) here."""
        import torch

        automatic, encoded = self.preprocess(inputs, **params)
        sizes = {"original_sizes": encoded.pop("original_sizes"), "reshaped_input_sizes": encoded.pop("reshaped_input_sizes")}
        if not automatic:
            (out,) = yield Step([("prompted", encoded, sizes)])
            return self.postprocess(out, **params)
        (embedding,) = yield Step([("embed", encoded["pixel_values"], None)])
        grid = encoded["input_points"]  # (1, N, 1, 2)
        step = params["points_per_batch"]
        kept = yield Step([("points", embedding, grid[:, start : start + step]) for start in range(0, grid.shape[1], step)])
        logits = self._valid_region(torch.cat([k[0] for k in kept]), sizes)
        scores = torch.cat([k[1] for k in kept])
        order = mask_nms(logits > 0, scores, params["nms_thresh"])
        # still low resolution: postprocess upscales one mask at a time, so big images stay affordable
        size = tuple(sizes["original_sizes"][0].tolist())
        return self.postprocess({"logits": logits[order], "scores": scores[order], "size": size}, **params)

    def batch_key(self, item):
        kind, value, _ = item
        if kind == "embed":  # pictures are padded to one size by SAM's processor: they stack
            return kind, tuple(value.shape)
        return kind, object()  # prompts and point batches run one at a time

    def forward(self, batch, multimask=True, pred_iou_thresh=0.88, stability_score_thresh=0.95, **_):
        import torch

        kind = batch[0][0]
        if kind == "embed":
            pixels = torch.cat([value for _, value, _ in batch]).to(self.device, self.model.dtype)
            return list(self.model.get_image_embeddings(pixels).split(1))
        ((_, value, extra),) = batch
        if kind == "prompted":
            return [self.prompted(value, extra, multimask)]
        return [self.grid_masks(value, extra, pred_iou_thresh, stability_score_thresh)]

    def prompted(self, encoded, sizes, multimask: bool) -> dict:
        """Candidate masks for the prompts, at the image's size."""
        encoded = self.on_device(encoded)
        for name in ("input_points", "input_boxes"):
            if name in encoded:
                encoded[name] = encoded[name].to(self.model.dtype)
        out = self.model(**encoded, multimask_output=multimask)
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), sizes["original_sizes"].cpu(), sizes["reshaped_input_sizes"].cpu()
        )[0]
        return {"masks": masks, "scores": out.iou_scores[0].float().cpu(), "boxes": encoded.get("input_boxes")}

    def grid_masks(self, embedding, points, pred_iou_thresh: float, stability_score_thresh: float):
        """Low-resolution masks for a batch of single-point prompts, those kept by predicted IoU and stability."""
        import torch

        points = points.to(self.device, self.model.dtype)
        labels = torch.ones(points.shape[:3], dtype=torch.long, device=points.device)
        out = self.model(image_embeddings=embedding, input_points=points, input_labels=labels, multimask_output=True)
        logits = out.pred_masks[0].flatten(0, 1).float()  # (b*3, h, w), low resolution
        scores = out.iou_scores[0].flatten().float()
        keep = scores >= pred_iou_thresh
        if stability_score_thresh > 0:
            keep &= stability(logits) >= stability_score_thresh
        keep &= (logits > 0).flatten(1).any(1)
        return logits[keep].cpu(), scores[keep].cpu()

    def _valid_region(self, logits, sizes):
        """Low-resolution masks cut to the part that covers the image (SAM pads to a square)."""
        pad = self.processor.image_processor.pad_size
        height, width = sizes["reshaped_input_sizes"][0].tolist()
        low_h, low_w = logits.shape[-2:]
        keep_h = max(1, round(low_h * height / pad["height"]))
        keep_w = max(1, round(low_w * width / pad["width"]))
        return logits[:, :keep_h, :keep_w]

    def postprocess(self, outputs, **_) -> list[dict]:
        if "logits" in outputs:  # automatic: (K, h, w) low-resolution logits, best first
            import torch

            size = outputs["size"]
            upscale = lambda m: torch.nn.functional.interpolate(  # noqa: E731
                m[None, None], size, mode="bilinear", align_corners=False
            )[0, 0] > 0
            return [
                {"mask": to_picture(upscale(m)), "score": float(s)}
                for m, s in zip(outputs["logits"], outputs["scores"].tolist())
            ]
        masks, scores, boxes = outputs["masks"], outputs["scores"], outputs["boxes"]
        results = []
        for prompt in range(masks.shape[0]):  # (prompts, candidates, H, W)
            order = scores[prompt].argsort(descending=True).tolist()
            for c in order:
                row = {"mask": to_picture(masks[prompt, c]), "score": float(scores[prompt, c])}
                if boxes is not None and masks.shape[0] > 1:
                    row["prompt"] = prompt
                results.append(row)
        return results


def to_picture(mask):
    """A boolean HxW tensor as a 1-bit PIL image (numpy.asarray gives the booleans back)."""
    from PIL import Image

    return Image.fromarray(mask.cpu().numpy().astype(bool))


def stability(logits, offset: float = 1.0):
    """SAM's stability score: IoU of the mask thresholded at +offset and at -offset."""
    inner = (logits > offset).flatten(1).sum(1)
    outer = (logits > -offset).flatten(1).sum(1)
    return inner / outer.clamp(min=1)


def mask_nms(masks, scores, threshold: float):
    """Indices of masks kept, best score first, dropping any overlapping a kept one by IoU > threshold."""
    import torch

    order = scores.argsort(descending=True)
    flat = masks[order].flatten(1).float()
    area = flat.sum(1)
    inter = flat @ flat.T
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1)
    keep: list[int] = []
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i].cpu() > threshold
    return order[keep]


TASK = MaskGeneration
