"""summarization: a short summary of a text, with an encoder-decoder model (BART-CNN, PEGASUS, T5...).

Tokenizer + ``AutoModelForSeq2SeqLM.generate`` as the model cards show, with
the model's own generation settings (beams, length penalty) unless overridden.
Text longer than the model's window is summarised piece by piece and the
pieces' summaries once more (``long_input="chunk"``, the default), or cut to
the window (``long_input="truncate"``); either way a notice says so.
"""

from __future__ import annotations

from .. import generation as gen
from ..outputs.shapes import STRING, obj
from ..spec import Input, Param, TaskSpec
from ..task import Step
from ._seq2seq import Seq2SeqTask


class Summarization(Seq2SeqTask):
    spec = TaskSpec(
        name="summarization",
        summary="Summarise a text (long texts chunk by chunk, then once more).",
        default_model="facebook/bart-large-cnn",
        inputs=(Input("text", "text", help="the text to summarise"),),
        output="text",
        output_help='{"summary_text"}',
        output_schema=obj({"summary_text": STRING}),
        params=(
            Param("min_length", int, None, "shortest summary, in tokens (default: the model's)", min=0, limit="new_tokens"),
            Param("max_length", int, None, "longest summary, in tokens (default: the model's)", min=1, limit="new_tokens"),
            gen.NUM_BEAMS,
            Param(
                "long_input", str, "chunk", "text longer than the model's window: summarise it in chunks, or cut it",
                choices=("chunk", "truncate"), stage="preprocess",
            ),
            gen.SEED,
        ),
        aliases=("summarize",),
        examples=({"text": "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building."},),
    )

    def load(self) -> None:
        super().load()
        # T5-style models are told the task in their input.
        task_params = (getattr(self.model.config, "task_specific_params", None) or {}).get("summarization", {})
        self.prefix = task_params.get("prefix", "") or ""
        self.budget = self.window - gen.special_token_count(self.tokenizer) - self.count(self.prefix)

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        gen.check_decoding(params)
        gen.check_room(params, "max_length", self.window, self.model_id)
        gen.check_room(params, "min_length", self.window, self.model_id)

    def plan(self, inputs, params, emit=None):
        """The summary: at once when the text fits the window, else cut, or in rounds of chunks (each
        round's chunks summarised together, batched with other calls) and once more; the last pass
        streams."""
        text = inputs["text"]
        length = self.count(text)
        if length > self.budget and params["long_input"] == "chunk":
            pieces, rounds = [text], 0
            while rounds < 4:
                pieces = gen.split_to_fit(" ".join(pieces), self.count, self.budget)
                if len(pieces) == 1:
                    break
                rounds += 1
                summaries = yield Step([self.item(self.prefix + piece) for piece in pieces])
                pieces = [s.strip() for s in map(self.decode, summaries) if s.strip()] or ["."]
            gen.notice(
                f"The text is {length} tokens, longer than {self.model_id}'s window of {self.window}: "
                f"summarised in {rounds} round(s) of chunks, then once more."
            )
            text = " ".join(pieces)
        elif length > self.budget:
            gen.notice(
                f"The text is {length} tokens and {self.model_id} reads at most {self.window}: "
                f"only the first {self.window} were summarised (use long_input='chunk' to summarise it all)."
            )
        (summary,) = yield Step([self.item(self.prefix + text)], stream=emit is not None)
        return self.postprocess(summary)

    def generate_kwargs(self, item, params):
        kwargs = super().generate_kwargs(item, params)
        floor = self.model.generation_config.min_length or 0
        if params.get("max_length") is not None and params.get("min_length") is None and floor > params["max_length"]:
            kwargs["min_length"] = 0  # a shorter summary than the model's usual minimum was asked for
        return kwargs

    def postprocess(self, summary, **_):
        return {"summary_text": self.decode(summary)}


TASK = Summarization
