"""image-segmentation: a picture cut into labelled regions (semantic, instance or panoptic masks).

Semantic models (SegFormer by default) label every pixel: the model's logits, scaled to the picture
as transformers does it, give one mask per label present, scored by the mean confidence of its
pixels (transformers' pipeline gives no score). Panoptic and instance models (DETR panoptic,
Mask2Former, MaskFormer) give one mask per thing or stuff, scored by the model, through their image
processor's own post-processing. Results have the Hugging Face shape ``[{"label", "score", "mask"}]``,
masks 1-bit pictures at the input's size; ``-o`` overlays them on the picture. SAM stays under
mask-generation.
"""

from __future__ import annotations

from ..errors import InvalidInput, WrongModelType
from ..spec import Input, Param, TaskSpec
from ._vision import DOWNSCALE, DRAWN_SUFFIXES, VisionTask

SUBTASKS = ("panoptic", "instance", "semantic")  # tried in this order when none is asked (as transformers)
SCALED_LOGITS = 2**25  # label maps at the picture's size held at once (floats: ~128 MB)


class ImageSegmentation(VisionTask):
    spec = TaskSpec(
        name="image-segmentation",
        summary="Cut a picture into labelled regions: semantic (every pixel a label) or panoptic/instance masks.",
        default_model="nvidia/segformer-b0-finetuned-ade-512-512",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="masks",
        output_help="labelled masks at the image's size with scores; -o overlays them",
        params=(
            Param("subtask", str, None, "semantic, instance or panoptic [default: the first the model does, in the "
                  "order panoptic, instance, semantic]", choices=SUBTASKS, stage="postprocess"),
            Param("threshold", float, 0.9, "panoptic/instance: keep regions scored at least this", min=0, max=1,
                  stage="postprocess"),
            Param("mask_threshold", float, 0.5, "panoptic/instance: a pixel is in a mask from this probability", min=0,
                  max=1, stage="postprocess"),
            Param("overlap_mask_area_threshold", float, 0.5, "panoptic/instance: drop a region keeping less than "
                  "this part of its mask after overlaps are settled", min=0, max=1, stage="postprocess"),
            DOWNSCALE,
        ),
        modality="vision",
        examples=({"image": "cats.png"},),
        nothing_found="No regions found (panoptic/instance models: lower --threshold to see weaker ones).",
    )
    output_suffixes = DRAWN_SUFFIXES
    max_aspect = 100

    def load(self) -> None:
        from transformers import AutoImageProcessor

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(AutoImageProcessor, self.model_path)
        self.model = load_model(model_class(self.model_path), self.model_path, self.device)
        # Semantic heads give logits per pixel; the others give masks per region for the processor to settle.
        self.per_pixel = type(self.model).__name__.endswith("ForSemanticSegmentation")
        self.subtasks = [s for s in SUBTASKS if self.does(s)]

    def does(self, subtask: str) -> bool:
        if subtask == "semantic":
            return self.per_pixel
        return not self.per_pixel and hasattr(self.processor, f"post_process_{subtask}_segmentation")

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        asked = params["subtask"]
        if asked is not None and asked not in self.subtasks:
            raise InvalidInput(
                f"{self.model_id} does not do {asked} segmentation; it does {', '.join(self.subtasks) or 'none'}.",
                "Leave --subtask out, or pick a model for it (semantic: nvidia/segformer-b0-finetuned-ade-512-512; "
                "panoptic: facebook/detr-resnet-50-panoptic).",
            )

    def postprocess(self, outputs, subtask=None, threshold=0.9, mask_threshold=0.5, overlap_mask_area_threshold=0.5,
                    **_) -> list[dict]:
        from .mask_generation import to_picture

        outputs, (width, height) = outputs
        labels = self.model.config.id2label
        kind = subtask or self.subtasks[0]
        if kind == "semantic":
            return semantic_masks(outputs.logits[0].float().cpu(), (height, width), labels)
        settle = getattr(self.processor, f"post_process_{kind}_segmentation")
        extra = {"label_ids_to_fuse": set()} if kind == "panoptic" else {}  # (None: the same, with a warning)
        found = settle(outputs, threshold=threshold, mask_threshold=mask_threshold,
                       overlap_mask_area_threshold=overlap_mask_area_threshold, target_sizes=[(height, width)], **extra)[0]
        segmentation = found["segmentation"]
        return [{"label": labels.get(s["label_id"], str(s["label_id"])), "score": float(s["score"]),
                 "mask": to_picture(segmentation == s["id"])} for s in found["segments_info"]]


def model_class(path):
    """The model class for a segmentation checkpoint: the architecture its config names, else the first
    segmentation kind transformers knows its configuration for."""
    import json
    from pathlib import Path

    import transformers
    from transformers import (
        AutoConfig,
        AutoModelForImageSegmentation,
        AutoModelForInstanceSegmentation,
        AutoModelForSemanticSegmentation,
        AutoModelForUniversalSegmentation,
    )

    config = json.loads((Path(path) / "config.json").read_text())
    if config.get("model_type") == "oneformer":  # it reads a text prompt per subtask, which is not sent here
        from ..backends.transformers import model_id_for

        raise WrongModelType(f"{model_id_for(path)} is a OneFormer model, which modeldeck's image-segmentation does not run.",
                             "Use a Mask2Former, DETR panoptic or SegFormer model.")
    for name in config.get("architectures") or ():
        if isinstance(name, str) and name.endswith("Segmentation") and hasattr(transformers, name):
            return getattr(transformers, name)
    try:
        kind = type(AutoConfig.for_model(**config))
    except (ValueError, TypeError, KeyError):  # no model_type, or one transformers does not know
        kind = None
    kinds = (AutoModelForSemanticSegmentation, AutoModelForUniversalSegmentation, AutoModelForImageSegmentation,
             AutoModelForInstanceSegmentation)
    return next((auto for auto in kinds if kind in auto._model_mapping), AutoModelForSemanticSegmentation)


def semantic_masks(logits, size: tuple[int, int], labels: dict) -> list[dict]:
    """One mask per label present in per-pixel ``logits`` (labels, h, w) scaled to ``size`` (height, width).

    As transformers: logits scaled up bilinearly, each pixel the label of its highest logit. Done a few
    labels at a time (a running best and log-sum-exp), so a big picture never holds every label's
    full-size map at once; a mask's score is its pixels' mean softmax probability of its label.
    """
    import torch
    import torch.nn.functional as F

    from .mask_generation import to_picture

    classes = logits.shape[0]
    chunk = max(1, min(classes, SCALED_LOGITS // max(1, size[0] * size[1])))
    best = label = total = None
    for start in range(0, classes, chunk):
        scaled = F.interpolate(logits[None, start : start + chunk], size=size, mode="bilinear", align_corners=False)[0]
        value, index = scaled.max(0)
        part = scaled.logsumexp(0)
        if best is None:
            best, label, total = value, index, part
        else:  # strictly greater: an earlier label keeps a tie, as argmax does
            better = value > best
            best, label = torch.where(better, value, best), torch.where(better, index + start, label)
            total = torch.logaddexp(total, part)
        del scaled
    confidence = (best - total).exp()
    masks = []
    for i in label.unique().tolist():
        inside = label == i
        masks.append({"label": labels.get(i, str(i)), "score": float(confidence[inside].mean()), "mask": to_picture(inside)})
    return masks


TASK = ImageSegmentation
