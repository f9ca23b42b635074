"""token-classification (ner): named entities, or a tag for each word, with offsets into the text.

Tokenizer + ``AutoModelForTokenClassification`` as the model cards show; tokens grouped into entities
as transformers' TokenClassificationPipeline groups them (``_entities``), ``start``/``end`` always
characters of the ORIGINAL text (``text[start:end]`` is the entity). A text longer than the model
reads is tagged in overlapping windows (``stride`` tokens shared), each window a part batched with
other calls' windows; an entity seen by two windows is kept once.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec
from ..task import Parts, Task
from ._entities import STRATEGIES, aggregate, drop_overlaps, pre_entities


class TokenClassification(Task):
    spec = TaskSpec(
        name="token-classification",
        summary="Find named entities (people, places, organisations...) in a text, or tag each of its words.",
        default_model="dslim/bert-base-NER",
        inputs=(Input("text", "text", help="the text to tag"),),
        output="entities",
        output_help='entities with labels, scores and character offsets: {"entity_group", "score", "word", "start", "end"}',
        params=(
            Param("aggregation_strategy", str, "simple",
                  "how tokens join into entities: none (each token alone), simple (adjacent tokens of one entity), "
                  "first / average / max (whole words, labelled by the first token, the average score or the best token)",
                  choices=STRATEGIES, stage="postprocess"),
            Param("ignore_labels", str, None, "labels left out of the result [default: O, the 'no entity' label]",
                  many=True, stage="postprocess"),
            Param("stride", int, 32, "tokens shared by consecutive windows of a text longer than the model reads",
                  min=0, stage="preprocess"),
        ),
        aliases=("ner",),
        examples=({"text": "My name is Wolfgang and I live in Berlin."},),
    )
    max_batch_size = 16  # windows per pass, from any calls

    def load(self) -> None:
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        from ..backends.transformers import load_model, load_processor
        from ..generation import model_window

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        if not getattr(self.tokenizer, "is_fast", False):
            raise InvalidInput(
                f"{self.model_id}'s tokenizer cannot map tokens back to characters, which entity offsets need.",
                "Pick a model with a tokenizer.json (a 'fast' tokenizer).",
            )
        self.model = load_model(AutoModelForTokenClassification, self.model_path, self.device)
        self.window = model_window(self.model, self.tokenizer, default=512)

    def validate(self, inputs, params) -> None:
        ignored = params["ignore_labels"]
        if ignored is not None and not all(isinstance(label, str) for label in ignored):
            wrong = next(label for label in ignored if not isinstance(label, str))
            raise InvalidInput(f"ignore_labels must be label names (text), not {type(wrong).__name__}: {wrong!r:.40}.",
                               f"The model's labels: {', '.join(map(str, self.model.config.id2label.values()))}.",
                               param="ignore_labels")
        room = self.window - self.tokenizer.num_special_tokens_to_add()
        if params["stride"] >= room:
            raise InvalidInput(
                f"stride is {params['stride']}, but {self.model_id} reads {room} tokens of text per window: the "
                "windows would never move on.",
                f"Use --stride {min(32, room - 1)} (less than {room}).", param="stride",
            )

    def preprocess(self, inputs, stride=32, **_) -> Parts:
        """The text's windows: one part each (a short text is one window)."""
        text = inputs["text"]
        encoded = self.tokenizer(
            text, truncation=True, max_length=self.window, stride=stride, return_overflowing_tokens=True,
            return_offsets_mapping=True, return_special_tokens_mask=True,
        )
        names = [n for n in self.tokenizer.model_input_names if n in encoded]
        room = self.window - self.tokenizer.num_special_tokens_to_add()
        return Parts({
            "tokens": {n: encoded[n][w] for n in names}, "offsets": encoded["offset_mapping"][w],
            "special": encoded["special_tokens_mask"][w], "text": text,
            "first_index": w * (room - stride),  # where the window's tokens sit among the whole text's
        } for w in range(len(encoded["input_ids"])))

    def cost(self, window) -> int:
        return len(window["tokens"]["input_ids"])

    def forward(self, batch):
        from ..backends.transformers import pad_batch

        encoded = {n: v.to(self.device) for n, v in pad_batch(self.tokenizer, [w["tokens"] for w in batch]).items()}
        logits = self.model(**encoded).logits.float().cpu()
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        width = logits.shape[1]
        outputs = []
        for row, window in enumerate(batch):
            n = len(window["tokens"]["input_ids"])
            outputs.append((window, logits[row, width - n :] if left else logits[row, :n]))
        return outputs

    def postprocess(self, outputs, aggregation_strategy="simple", ignore_labels=None, **_) -> list[dict]:
        ignored = {"O"} if ignore_labels is None else set(ignore_labels)
        id2label = self.model.config.id2label
        found = []
        for window, logits in outputs:
            ids = window["tokens"]["input_ids"]
            pre = pre_entities(window["text"], self.tokenizer.convert_ids_to_tokens(ids), ids,
                               logits.softmax(-1).numpy(), window["offsets"], window["special"], self.tokenizer,
                               window["first_index"])
            found += [e for e in aggregate(pre, aggregation_strategy, id2label, self.tokenizer)
                      if e.get("entity", e.get("entity_group")) not in ignored]
        return drop_overlaps(found) if len(outputs) > 1 else found


TASK = TokenClassification
