"""text-generation: continue a prompt with a causal language model (GPT-2, OPT...).

Tokenizer + ``AutoModelForCausalLM.generate`` as the model cards show; greedy
unless a sampling parameter or a seed is given. ``stream()`` yields the text as
it is generated (the CLI prints it live).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import generation as gen
from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec
from ..task import Streaming, Task


class TextGeneration(Streaming, Task):
    spec = TaskSpec(
        name="text-generation",
        summary="Continue a prompt with a language model (GPT-2, OPT...); tokens stream as they are made.",
        default_model="gpt2",
        inputs=(Input("text", "text", help="the prompt to continue"),),
        output="text",
        output_help='[{"generated_text"}], one per sequence',
        params=(
            Param("max_new_tokens", int, 50, "how many tokens to add", min=1, limit="new_tokens"),
            *gen.SAMPLING_PARAMS,
            Param("num_return_sequences", int, 1, "how many continuations (more than one turns sampling on)", min=1,
                  limit="sequences"),
            Param("return_full_text", bool, True, "start generated_text with the prompt", stage="postprocess"),
        ),
        examples=({"text": "Once upon a time,"},),
    )

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..backends.ctranslate2 import load_fast, stand_in
        from ..backends.transformers import load_model, load_processor

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        # runtime="ctranslate2" (or a stored conversion under "auto"): CTranslate2 generates, torch is not loaded.
        self.fast = load_fast(self, "generator", self.tokenizer)
        if self.fast is not None:
            self.model = stand_in(self.model_path, self.fast.config)
        else:
            self.model = load_model(AutoModelForCausalLM, self.model_path, self.device)
        self.window = gen.model_window(self.model, self.tokenizer)
        config = self.model.generation_config
        eos = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else config.pad_token_id
        self.pad_token_id = pad if pad is not None else (eos[0] if isinstance(eos, list) else eos)

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        gen.check_decoding(params)

    def preprocess(self, inputs, max_new_tokens=50, **_):
        encoded = self.tokenizer(inputs["text"], return_tensors="pt")
        length = encoded["input_ids"].shape[1]
        if length >= self.window:
            raise InvalidInput(
                f"The prompt is {length} tokens; {self.model_id} reads at most {self.window} tokens at once.",
                "Shorten the prompt (or pick a model with a longer context).",
            )
        room = self.window - length
        if max_new_tokens > room:
            gen.notice(
                f"The prompt is {length} tokens and {self.model_id} reads at most {self.window}: "
                f"generating {room} new tokens instead of {max_new_tokens}."
            )
        return {"text": inputs["text"], "encoded": dict(encoded), "max_new_tokens": min(max_new_tokens, room)}

    def _generate_kwargs(self, x: dict, params: dict) -> dict[str, Any]:
        kwargs = gen.decoding_kwargs({**params, "max_new_tokens": x["max_new_tokens"]})
        encoded = {name: value.to(self.device) for name, value in x["encoded"].items()}
        return {**encoded, **kwargs, "pad_token_id": self.pad_token_id}

    def forward(self, batch, **params):
        (x,) = batch
        if self.fast is not None:
            return [(x, self.fast.generate(x["encoded"]["input_ids"][0].tolist(), params, x["max_new_tokens"]))]
        with gen.seeded(params.get("seed"), random=gen.sampling_on(params)):
            return [(x, self.model.generate(**self._generate_kwargs(x, params)))]

    def forward_stream(self, x, emit, **params):
        prompt_ids = x["encoded"]["input_ids"][0].tolist()
        if self.fast is not None:
            return x, self.fast.generate(prompt_ids, params, x["max_new_tokens"], emit=emit, decode=self._decode)
        with gen.seeded(params.get("seed"), random=gen.sampling_on(params)):
            sequences = gen.stream_generate(self.model.generate, self._decode, prompt_ids, emit, **self._generate_kwargs(x, params))
        return x, sequences

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def postprocess(self, outputs, return_full_text=True, **_) -> list[dict]:
        x, sequences = outputs
        prompt_ids = x["encoded"]["input_ids"][0].tolist()
        prompt_text = self._decode(prompt_ids)
        results = []
        for sequence in sequences.tolist():
            # Decode the whole sequence and cut the decoded prompt off (as transformers' pipeline does),
            # so the first new word keeps its leading space with every kind of tokenizer.
            new = self._decode(sequence)[len(prompt_text) :]
            results.append({"generated_text": (x["text"] + new) if return_full_text else new})
        return results

    def stream(self, inputs: Any = None, /, **kwargs: Any) -> Iterator[str]:
        """The generated text piece by piece; the pieces join to the ``generated_text`` of the same call.

        With several return sequences, each whole sequence comes as one piece (separated by blank lines).
        """
        bound, params = self.spec.bind(inputs, kwargs)
        self.check(bound, params)
        self.validate(bound, params)
        if params["num_return_sequences"] != 1:
            for i, result in enumerate(self(bound, **params)):
                yield ("\n\n" if i else "") + result["generated_text"]
            return
        if params["return_full_text"]:
            yield bound["text"]
        yield from super().stream(bound, **params)


TASK = TextGeneration
