"""image-classification: what a picture shows, as the model's labels with scores (ViT by default).

The image processor and ``AutoModelForImageClassification`` as the model cards show; scores as
transformers' image-classification pipeline makes them (softmax, or sigmoid for multi-label heads).
Pictures of one shape after the processor share a forward pass, from any callers.
"""

from __future__ import annotations

from ..spec import Input, TaskSpec
from ._classify import FUNCTION, TOP_K, ranked, scores
from ._vision import DOWNSCALE, VisionTask


class ImageClassification(VisionTask):
    spec = TaskSpec(
        name="image-classification",
        summary="Say what a picture shows: the model's labels (e.g. ImageNet's 1000) with scores.",
        default_model="google/vit-base-patch16-224",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="labels",
        output_help="the top labels with scores, best first",
        params=(TOP_K, FUNCTION, DOWNSCALE),
        modality="vision",
        examples=({"image": "cats.png", "top_k": 3},),
    )
    max_aspect = 100  # the processor squeezes the picture into a square

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(AutoImageProcessor, self.model_path)
        self.model = load_model(AutoModelForImageClassification, self.model_path, self.device)

    def postprocess(self, outputs, top_k=5, function_to_apply=None, **_) -> list[dict]:
        outputs, _size = outputs
        config = self.model.config
        return ranked(scores(outputs.logits[0].cpu(), config, function_to_apply), config, top_k)


TASK = ImageClassification
