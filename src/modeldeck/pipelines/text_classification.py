"""text-classification (sentiment-analysis): labels with probabilities for a text."""

from __future__ import annotations

from ..generation import model_window
from ..spec import Input, Param, TaskSpec
from ..task import Task
from ..backends.transformers import pad_batch
from ._text import encode_to_fit


class TextClassification(Task):
    spec = TaskSpec(
        name="text-classification",
        summary="Classify a text (e.g. sentiment) into the model's labels.",
        default_model="distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        inputs=(Input("text", "text", help="the text to classify"),),
        output="labels",
        output_help="labels with scores, best first",
        params=(Param("top_k", int, None, "how many labels to return (default: all)", min=1, stage="postprocess"),),
        aliases=("sentiment-analysis", "sentiment"),
        examples=({"text": "I love this movie, it was wonderful!"},),
    )
    max_batch_size = 32

    def load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ..backends.onnx import load_encoder
        from ..backends.transformers import load_processor

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        # The torch model, or its ONNX Runtime stand-in (runtime="onnx", or a stored graph under "auto").
        self.model = load_encoder(self, AutoModelForSequenceClassification, self.tokenizer, ("logits",))
        self.window = model_window(self.model, self.tokenizer, default=512)

    def preprocess(self, inputs, **_):
        return encode_to_fit(self.tokenizer, inputs["text"], self.window, self.model_id)

    def cost(self, item) -> int:
        return len(item["input_ids"])

    def forward(self, batch):
        encoded = {name: value.to(self.device) for name, value in pad_batch(self.tokenizer, batch).items()}
        return list(self.model(**encoded).logits.float().cpu())

    def postprocess(self, logits, top_k=None, **_) -> list[dict]:
        config = self.model.config
        # Multi-label and single-logit heads score each label alone; others share one softmax.
        if config.problem_type == "multi_label_classification" or config.num_labels == 1:
            scores = logits.sigmoid()
        else:
            scores = logits.softmax(-1)
        ranked = sorted(
            ({"label": config.id2label[i], "score": float(s)} for i, s in enumerate(scores)),
            key=lambda r: -r["score"],
        )
        from ..limits import at_most

        top_k = at_most(top_k, len(ranked), "top_k", "labels")
        return ranked[:top_k] if top_k else ranked


TASK = TextClassification
