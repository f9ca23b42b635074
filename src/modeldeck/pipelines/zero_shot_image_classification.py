"""zero-shot-image-classification: which of your labels fits an image best (CLIP by default)."""

from __future__ import annotations

from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec
from ._vision import DOWNSCALE, VisionTask, tensor_shapes


class ZeroShotImageClassification(VisionTask):
    spec = TaskSpec(
        name="zero-shot-image-classification",
        summary="Score an image against labels you choose (CLIP): probabilities that sum to 1.",
        default_model="openai/clip-vit-large-patch14",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="labels",
        output_help="your labels with probabilities, best first",
        params=(
            Param("candidate_labels", str, None, "the labels to choose from (repeat, or separate with commas)", many=True,
                  stage="preprocess"),
            Param(
                "hypothesis_template", str, "a photo of {}.", "the sentence each label is put in; {} is the label",
                stage="preprocess",
            ),
            DOWNSCALE,
        ),
        modality="multimodal",
        examples=({"image": "cats.png", "candidate_labels": ["cat", "dog", "car"]},),
    )

    def load(self) -> None:
        from transformers import AutoModelForZeroShotImageClassification, AutoProcessor

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(AutoProcessor, self.model_path)
        self.model = load_model(AutoModelForZeroShotImageClassification, self.model_path, self.device)
        self.sigmoid = "siglip" in self.model.config.model_type  # SigLIP scores each label on its own

    def validate(self, inputs, params) -> None:
        labels = params["candidate_labels"]
        if isinstance(labels, str):
            labels = [part.strip() for part in labels.split(",")]
        labels = [label.strip() for label in labels or [] if isinstance(label, str) and label.strip()]
        if not labels:
            raise InvalidInput(
                "No candidate labels: zero-shot classification needs the labels to choose from.",
                "Give some, e.g. candidate_labels=['cat', 'dog'] (CLI: --candidate-labels cat,dog).", param='candidate_labels')
        params["candidate_labels"] = labels
        template = params["hypothesis_template"] or ""
        if template.count("{}") != 1:
            raise InvalidInput(
                f"hypothesis_template {template!r} must contain {{}} once, where the label goes.",
                "For example: 'a photo of {}.'", param='hypothesis_template')
        super().validate(inputs, params)

    def preprocess(self, inputs, candidate_labels=(), hypothesis_template="a photo of {}.", **_):
        texts = [hypothesis_template.replace("{}", label, 1) for label in candidate_labels]
        padding = dict(padding="max_length", max_length=64, truncation=True) if self.sigmoid else dict(padding=True, truncation=True, max_length=self.text_limit())
        from ..cuts import tell_cuts

        tell_cuts(self.processor.tokenizer, texts, padding["max_length"], "label sentence", self.model_id)
        return self.processor(text=texts, images=inputs["image"], return_tensors="pt", **padding)

    def batch_key(self, encoded):
        """Pictures share a pass with others scored against the same label sentences."""
        return tensor_shapes({"pixel_values": encoded["pixel_values"]}), tuple(encoded["input_ids"].flatten().tolist())

    def forward(self, batch):
        import torch
        from transformers import BatchFeature

        encoded = BatchFeature({**batch[0], "pixel_values": torch.cat([e["pixel_values"] for e in batch])})
        logits = self.model(**self.on_device(encoded)).logits_per_image.float().cpu()
        return list(logits)

    def postprocess(self, logits, candidate_labels=(), **_) -> list[dict]:
        scores = logits.sigmoid() if self.sigmoid else logits.softmax(-1)
        ranked = sorted(zip(scores.tolist(), candidate_labels), key=lambda pair: -pair[0])
        return [{"label": label, "score": float(score)} for score, label in ranked]


TASK = ZeroShotImageClassification
