"""fill-mask: the likeliest tokens for the mask in a text."""

from __future__ import annotations

from ..errors import InvalidInput
from ..generation import model_window
from ..spec import Input, Param, TaskSpec
from ..task import Task
from ..backends.transformers import pad_batch
from ._text import encode_to_fit


class FillMask(Task):
    spec = TaskSpec(
        name="fill-mask",
        summary="Guess the word hidden behind the mask token ([MASK] for BERT).",
        default_model="google-bert/bert-base-uncased",
        inputs=(Input("text", "text", help="a text containing the model's mask token"),),
        output="fill-mask",
        output_help="candidate tokens with scores",
        params=(Param("top_k", int, 5, "how many candidates per mask", min=1, stage="postprocess"),),
        examples=({"text": "Paris is the [MASK] of France."},),
    )
    max_batch_size = 32

    def load(self) -> None:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        from ..backends.onnx import load_encoder
        from ..backends.transformers import load_processor

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        # The torch model, or its ONNX Runtime stand-in (runtime="onnx", or a stored graph under "auto").
        self.model = load_encoder(self, AutoModelForMaskedLM, self.tokenizer, ("logits",))
        self.window = model_window(self.model, self.tokenizer, default=512)

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        mask = self.tokenizer.mask_token
        if mask is None:
            raise InvalidInput(f"Model {self.model_id} has no mask token, so it cannot fill masks.")
        if mask not in inputs["text"]:
            raise InvalidInput(
                f"The text has no mask token: this model's mask token is {mask}.",
                f"Write it where the missing word goes, e.g. 'Paris is the {mask} of France.'", param="text",
            )

    def preprocess(self, inputs, **_):
        encoded = encode_to_fit(self.tokenizer, inputs["text"], self.window, self.model_id)
        kept, given = encoded["input_ids"].count(self.tokenizer.mask_token_id), inputs["text"].count(self.tokenizer.mask_token)
        if kept < given:  # any mask cut off is an error, not a note: its answer would be missing
            which = "The mask token is" if given == 1 else f"{given - kept} of the {given} mask tokens are"
            raise InvalidInput(
                f"{which} past the first {self.window} tokens, all {self.model_id} reads.",
                "Cut the text so every mask comes earlier.",
            )
        return encoded

    def cost(self, item) -> int:
        return len(item["input_ids"])

    def forward(self, batch):
        import torch

        encoded = {name: value.to(self.device) for name, value in pad_batch(self.tokenizer, batch).items()}
        logits = self.model(**encoded).logits
        outputs = []
        for row, item in enumerate(batch):
            input_ids = torch.tensor(item["input_ids"])
            positions = (input_ids == self.tokenizer.mask_token_id).nonzero().flatten()
            # only the rows at the masks leave the worker: a vocabulary-wide row per token is large
            outputs.append((input_ids, positions.tolist(), logits[row, positions.to(logits.device)].float().cpu()))
        return outputs

    def postprocess(self, outputs, top_k=5, **_):
        input_ids, positions, logits = outputs
        from ..limits import at_most

        top_k = at_most(top_k, logits.shape[-1], "top_k", "tokens in the vocabulary")
        results = []
        for position, row in zip(positions, logits):
            probs = row.softmax(-1)
            scores, tokens = probs.topk(min(top_k, probs.numel()))
            candidates = []
            for score, token in zip(scores.tolist(), tokens.tolist()):
                filled = input_ids.clone()
                filled[position] = token
                candidates.append(
                    {
                        "sequence": self.tokenizer.decode(filled.tolist(), skip_special_tokens=True),
                        "score": float(score),
                        "token": int(token),
                        "token_str": self.tokenizer.decode([token]).strip(),
                    }
                )
            results.append(candidates)
        return results[0] if len(results) == 1 else results


TASK = FillMask
