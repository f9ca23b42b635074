"""zero-shot-classification: which of your labels fits a text, with an NLI model (BART MNLI by default).

As transformers' ZeroShotClassificationPipeline does it: each label goes into a hypothesis ("This
example is {label}."), the model reads each (text, hypothesis) pair, and its entailment logits
become scores: a softmax across the labels (they sum to 1), or with ``multi_label`` each label's
entailment against its contradiction alone. Each pair is a part of its own, batched with the pairs of
other calls.
"""

from __future__ import annotations

from ..errors import InvalidInput, WrongModelType
from ..spec import Input, Param, TaskSpec
from ..task import Parts, Task
from ._text import fit_text, pair_tokens


def config_labels(config: dict) -> dict:
    """label -> id as transformers reads them from config.json (label2id, else id2label turned round)."""
    if isinstance(config.get("label2id"), dict) and config["label2id"]:
        return config["label2id"]
    names = config.get("id2label") if isinstance(config.get("id2label"), dict) else {}
    return {name: int(i) if str(i).isdigit() else i for i, name in names.items()}


def entailment(model_id: str, labels: dict) -> int:
    """The id of the 'entailment' label; WrongModelType for a model that has none (it is not an NLI model)."""
    found = next((i for name, i in labels.items() if str(name).lower().startswith("entail")), None)
    if found is None:
        raise WrongModelType(
            f"{model_id} is not an NLI model: its labels ({', '.join(map(str, labels)) or 'none'}) have no "
            "'entailment', which zero-shot classification reads.",
            "Use a model trained on NLI (MNLI, XNLI), e.g. facebook/bart-large-mnli.",
        )
    return found


class ZeroShotClassification(Task):
    spec = TaskSpec(
        name="zero-shot-classification",
        summary="Score a text against labels you choose (an NLI model reads 'This example is {label}.'), no training.",
        default_model="facebook/bart-large-mnli",
        inputs=(Input("text", "text", help="the text to classify"),),
        output="labels",
        output_help="your labels with scores, best first (summing to 1 unless multi_label)",
        params=(
            Param("candidate_labels", str, None, "the labels to choose from (repeat, or separate with commas)", many=True,
                  stage="preprocess"),
            Param("hypothesis_template", str, "This example is {}.", "the sentence each label is put in; {} is the label",
                  stage="preprocess"),
            Param("multi_label", bool, False, "several labels may be true: score each on its own (scores need not sum "
                  "to 1)", stage="postprocess"),
        ),
        examples=({"text": "I have a problem with my iphone that needs to be resolved asap!!",
                   "candidate_labels": ["urgent", "not urgent", "phone", "tablet"]},),
    )
    max_batch_size = 16  # (text, hypothesis) pairs per pass, from any calls

    def load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ..backends.transformers import load_model, load_processor
        from ..generation import model_window

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        self.model = load_model(AutoModelForSequenceClassification, self.model_path, self.device)
        self.window = model_window(self.model, self.tokenizer, default=512)
        self.entailment = entailment(self.model_id, self.model.config.label2id)
        self.contradiction = 0 if self.entailment != 0 else self.model.config.num_labels - 1  # as transformers picks

    @classmethod
    def check_checkpoint(cls, model_id, folder, config) -> None:
        if config is not None:  # (none: integrity names the missing file)
            entailment(model_id, config_labels(config))

    def validate(self, inputs, params) -> None:
        labels = params["candidate_labels"] or []
        labels = [part.strip() for part in labels.split(",")] if isinstance(labels, str) else labels
        wrong = next((label for label in labels if not isinstance(label, str)), None)
        if wrong is not None:
            raise InvalidInput(f"Every candidate label must be text, not {type(wrong).__name__}: {wrong!r:.40}.",
                               "Give the labels as text, e.g. candidate_labels=['urgent', 'not urgent'].",
                               param="candidate_labels")
        labels = list(dict.fromkeys(label.strip() for label in labels if label.strip()))  # each label once
        if not labels:
            raise InvalidInput(
                "No candidate labels: zero-shot classification needs the labels to choose from.",
                "Give some, e.g. candidate_labels=['urgent', 'not urgent'] (CLI: --candidate-labels urgent,'not urgent').",
                param="candidate_labels",
            )
        params["candidate_labels"] = labels
        template = params["hypothesis_template"] or ""
        if template.count("{}") != 1:
            raise InvalidInput(f"hypothesis_template {template!r} must contain {{}} once, where the label goes.",
                               "For example: 'This example is {}.'", param="hypothesis_template")

    def preprocess(self, inputs, candidate_labels=(), hypothesis_template="This example is {}.", **_) -> Parts:
        """The (text, hypothesis) pair of each label, cut to fit the model: one part each."""
        from ..notices import notice

        text = fit_text(self.tokenizer, inputs["text"], self.window)
        parts, cut = Parts(), 0
        for label in candidate_labels:
            hypothesis = hypothesis_template.replace("{}", label, 1)
            pair = pair_tokens(self.tokenizer, text, hypothesis, self.window, "only_first", "label sentence")
            parts.append(pair)
            cut = max(cut, pair.pop("cut"))
        if cut:
            notice(f"The text is too long for {self.model_id} with the label sentences beside it: its last "
                   f"{cut} tokens were cut and played no part. Shorten it to use all of it.")
        return parts

    def cost(self, pair) -> int:
        return len(pair["input_ids"])

    def forward(self, batch):
        from ..backends.transformers import pad_batch

        encoded = {n: v.to(self.device) for n, v in pad_batch(self.tokenizer, batch).items()}
        return list(self.model(**encoded).logits.float().cpu())

    def postprocess(self, logits, candidate_labels=(), multi_label=False, **_) -> list[dict]:
        import torch

        logits = torch.stack(logits)
        if multi_label or len(candidate_labels) == 1:  # each label's entailment against its contradiction
            scores = logits[:, [self.contradiction, self.entailment]].softmax(-1)[:, 1]
        else:  # the labels compete: a softmax of the entailment logits across them
            scores = logits[:, self.entailment].softmax(-1)
        ranked = sorted(zip(scores.tolist(), candidate_labels), key=lambda pair: -pair[0])
        return [{"label": label, "score": float(score)} for score, label in ranked]


TASK = ZeroShotClassification
