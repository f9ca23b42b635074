"""summarization: a short summary of a text, with an encoder-decoder model (BART-CNN, PEGASUS, T5...).

Tokenizer + ``AutoModelForSeq2SeqLM.generate`` as the model cards show, with
the model's own generation settings (beams, length penalty) unless overridden.
Text longer than the model's window is summarised piece by piece and the
pieces' summaries once more (``long_input="chunk"``, the default), or cut to
the window (``long_input="truncate"``); either way a notice says so.
"""

from __future__ import annotations

from .. import generation as gen
from ..spec import Input, Param, TaskSpec
from ..task import Streaming, Task


class Summarization(Streaming, Task):
    spec = TaskSpec(
        name="summarization",
        summary="Summarise a text (long texts chunk by chunk, then once more).",
        default_model="facebook/bart-large-cnn",
        inputs=(Input("text", "text", help="the text to summarise"),),
        output="text",
        output_help='{"summary_text"}',
        params=(
            Param("min_length", int, None, "shortest summary, in tokens (default: the model's)", min=0, limit="new_tokens"),
            Param("max_length", int, None, "longest summary, in tokens (default: the model's)", min=1, limit="new_tokens"),
            gen.NUM_BEAMS,
            Param(
                "long_input", str, "chunk", "text longer than the model's window: summarise it in chunks, or cut it",
                choices=("chunk", "truncate"),
            ),
            gen.SEED,
        ),
        aliases=("summarize",),
        examples=({"text": "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building."},),
    )

    prefix = ""

    def load(self) -> None:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from ..backends.ctranslate2 import load_fast, stand_in
        from ..backends.transformers import load_model, load_processor

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        # runtime="ctranslate2" (or a stored conversion under "auto"): CTranslate2 generates, torch is not loaded.
        self.fast = load_fast(self, "translator", self.tokenizer)
        if self.fast is not None:
            self.model = stand_in(self.model_path, self.fast.config)
        else:
            self.model = load_model(AutoModelForSeq2SeqLM, self.model_path, self.device)
        self.window = gen.model_window(self.model, self.tokenizer)
        # T5-style models are told the task in their input.
        task_params = (getattr(self.model.config, "task_specific_params", None) or {}).get("summarization", {})
        self.prefix = task_params.get("prefix", "") or ""
        self.count = gen.text_tokens(self.tokenizer)
        self.budget = self.window - gen.special_token_count(self.tokenizer) - self.count(self.prefix)

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        gen.check_decoding(params)
        gen.check_room(params, "max_length", self.window, self.model_id)
        gen.check_room(params, "min_length", self.window, self.model_id)

    def summarise(self, texts: list[str], emit=None, **params) -> list[str]:
        """One summary per text (each already fits the window); ``emit`` streams a lone text's summary."""
        if self.fast is not None:
            return self.summarise_fast(texts, emit, **params)
        encoded = self.tokenizer(
            [self.prefix + t for t in texts], truncation=True, max_length=self.window, padding=True, return_tensors="pt"
        ).to(self.device)
        kwargs = gen.decoding_kwargs(params)
        floor = self.model.generation_config.min_length or 0
        if params.get("max_length") is not None and params.get("min_length") is None and floor > params["max_length"]:
            kwargs["min_length"] = 0  # a shorter summary than the model's usual minimum was asked for
        with gen.seeded(params.get("seed"), random=gen.sampling_on(params)):
            if emit is None:
                out = self.model.generate(**encoded, **kwargs)
            else:
                decode = lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
                out = gen.stream_generate(self.model.generate, decode, [], emit, **encoded, **kwargs)
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def summarise_fast(self, texts: list[str], emit=None, **params) -> list[str]:
        """``summarise`` on CTranslate2: the same tokens in, the model's forced first token as the target prefix."""
        sources = [self.tokenizer(self.prefix + t, truncation=True, max_length=self.window)["input_ids"] for t in texts]
        floor = self.model.generation_config.min_length or 0
        if params.get("max_length") is not None and params.get("min_length") is None and floor > params["max_length"]:
            params = {**params, "min_length": 0}  # a shorter summary than the model's usual minimum was asked for
        forced = self.model.generation_config.forced_bos_token_id
        decode = lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True)
        ids = self.fast.translate(sources, params, prefix=[forced] if forced is not None else None, emit=emit, decode=decode)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def preprocess(self, inputs, **_):
        return inputs["text"]

    def forward(self, batch, **params):
        return [self.summary(text, **params) for text in batch]

    def forward_stream(self, text, emit, **params):
        return self.summary(text, emit=emit, **params)

    def summary(self, text, long_input="chunk", emit=None, **params):
        """The summary of one text: at once when it fits the window, else cut or in rounds of chunks;
        the last pass streams through ``emit``."""
        length = self.count(text)
        if length <= self.budget:
            return self.summarise([text], emit, **params)[0]
        if long_input == "truncate":
            gen.notice(
                f"The text is {length} tokens and {self.model_id} reads at most {self.window}: "
                f"only the first {self.window} were summarised (use long_input='chunk' to summarise it all)."
            )
            return self.summarise([text], emit, **params)[0]
        pieces, rounds = [text], 0
        while rounds < 4:
            pieces = gen.split_to_fit(" ".join(pieces), self.count, self.budget)
            if len(pieces) == 1:
                break
            rounds += 1
            summaries = []
            for first in range(0, len(pieces), 4):
                summaries += self.summarise(pieces[first : first + 4], **params)
            pieces = [s.strip() for s in summaries if s.strip()] or ["."]
        gen.notice(
            f"The text is {length} tokens, longer than {self.model_id}'s window of {self.window}: "
            f"summarised in {rounds} round(s) of chunks, then once more."
        )
        return self.summarise([" ".join(pieces)], emit, **params)[0]

    def postprocess(self, summary, **_):
        return {"summary_text": summary}


TASK = Summarization
