"""object-detection: labelled boxes around the objects in an image (DETR by default)."""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from ._vision import DOWNSCALE, DRAWN_SUFFIXES, VisionTask


class ObjectDetection(VisionTask):
    spec = TaskSpec(
        name="object-detection",
        summary="Find objects in an image: a label, a score and a box for each.",
        default_model="facebook/detr-resnet-50",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="boxes",
        output_help="boxes with labels and scores, best first; -o draws them",
        model_types=("detr", "conditional_detr", "deformable_detr", "deta", "table-transformer", "yolos", "rt_detr", "rt_detr_v2", "dab-detr", "d_fine"),
        params=(
            Param("threshold", float, 0.9, "keep objects scored at least this (0-1)", min=0, max=1, stage="postprocess"),
            DOWNSCALE,
        ),
        modality="vision",
        examples=({"image": "cats.png"},),
        nothing_found="No objects found above the threshold (lower --threshold to see weaker ones).",
    )
    output_suffixes = DRAWN_SUFFIXES

    max_aspect = 100

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForObjectDetection

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(AutoImageProcessor, self.model_path)
        self.model = load_model(AutoModelForObjectDetection, self.model_path, self.device)

    def postprocess(self, outputs, threshold=0.9, **_) -> list[dict]:
        outputs, (width, height) = outputs
        found = self.processor.post_process_object_detection(
            outputs, threshold=threshold, target_sizes=[(height, width)]
        )[0]
        labels = self.model.config.id2label
        results = []
        for score, label, box in zip(found["scores"].tolist(), found["labels"].tolist(), found["boxes"].tolist()):
            xmin, ymin, xmax, ymax = box
            results.append(
                {
                    "label": labels.get(label, str(label)),
                    "score": float(score),
                    # whole pixels, clipped to the picture (DETR's boxes may reach past its edges)
                    "box": {
                        "xmin": int(min(max(xmin, 0), width)),
                        "ymin": int(min(max(ymin, 0), height)),
                        "xmax": int(min(max(xmax, 0), width)),
                        "ymax": int(min(max(ymax, 0), height)),
                    },
                }
            )
        return sorted(results, key=lambda r: -r["score"])


TASK = ObjectDetection
