"""text-generation: continue a prompt with a causal language model (GPT-2, OPT...).

Tokenizer + ``AutoModelForCausalLM.generate`` as the model cards show; greedy
unless a sampling parameter or a seed is given. ``stream()`` yields the text as
it is generated (the CLI prints it live). ``details`` adds what TGI's ``details`` gives: each new token's
id, text and log-probability (where known: not with beam search or CTranslate2) and why generation stopped.
"""

from __future__ import annotations

from typing import Any

from .. import generation as gen
from ..errors import InvalidInput
from ..outputs.shapes import GENERATED
from ..spec import Input, Param, TaskSpec
from ..task import Step, Streaming, Task


class TextGeneration(Streaming, Task):
    spec = TaskSpec(
        name="text-generation",
        summary="Continue a prompt with a language model (GPT-2, OPT...); tokens stream as they are made.",
        default_model="gpt2",
        inputs=(Input("text", "text", help="the prompt to continue"),),
        output="text",
        output_help='[{"generated_text"}], one per sequence',
        output_schema=GENERATED,
        params=(
            Param("max_new_tokens", int, 50, "how many tokens to add", min=1, limit="new_tokens"),
            *gen.SAMPLING_PARAMS,
            Param("num_return_sequences", int, 1, "how many continuations (more than one turns sampling on)", min=1,
                  limit="sequences"),
            Param("return_full_text", bool, True, "start generated_text with the prompt", stage="postprocess"),
            Param("details", bool, False, "also give each new token (id, text, log-probability) and why generation "
                  "stopped (TGI's details)", stage="forward"),
        ),
        examples=({"text": "Once upon a time,"},),
    )

    max_batch_size = 16  # greedy and beam requests with equal settings share a padded generate() call

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..backends.ctranslate2 import load_generator
        from ..backends.transformers import load_processor

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        # runtime="ctranslate2" (or a stored conversion under "auto"): CTranslate2 generates, torch is not loaded.
        load_generator(self, AutoModelForCausalLM, "generator")

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        gen.check_decoding(params)

    def plan(self, inputs, params, emit=None):
        """The continuation; streamed, the prompt first when it is part of the result. Several sequences
        stream as whole sequences, separated by blank lines."""
        item = self.preprocess(inputs, **params)
        several = params["num_return_sequences"] != 1
        if emit is not None and params["return_full_text"] and not several:
            emit(inputs["text"])
        (output,) = yield Step([item], stream=emit is not None and not several)
        results = self.postprocess(output, **params)
        if emit is not None and several:
            for i, result in enumerate(results):
                emit(("\n\n" if i else "") + result["generated_text"])
        return results

    def preprocess(self, inputs, max_new_tokens=50, **_):
        ids = self.tokenizer(inputs["text"])["input_ids"]
        length = len(ids)
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
        return {"text": inputs["text"], "ids": ids, "max_new_tokens": min(max_new_tokens, room)}

    def batch_key(self, x):
        return x["max_new_tokens"]

    def cost(self, x) -> int:
        return len(x["ids"]) + x["max_new_tokens"]

    def can_batch(self, params) -> bool:
        return not gen.sampling_on(params) and not params.get("details")  # details: its own pass, rows as generated

    def _kwargs(self, x, params) -> dict[str, Any]:
        kwargs = gen.decoding_kwargs({**params, "max_new_tokens": x["max_new_tokens"]})
        return gen.own_draws({**kwargs, "pad_token_id": self.pad_token_id}, self.model.generation_config, params.get("seed"))

    def forward(self, batch, **params):
        if self.fast is not None:
            return [(x, self.fast.generate(x["ids"], params, x["max_new_tokens"]).tolist(), None) for x in batch]
        kwargs = self._kwargs(batch[0], params)
        collected = None
        if params.get("details"):  # one item per pass (can_batch): each row's tokens' log-probabilities
            recorder = gen.LogprobRecorder()
            collected = gen.TokenLogprobs(recorder)
            kwargs = {**kwargs, "logits_processor": [recorder, *kwargs.get("logits_processor", [])],
                      "streamer": collected}
        with gen.drawing(kwargs, params.get("seed")):  # beam sampling only
            sequences = gen.generate_batch(
                self.model, [x["ids"] for x in batch], kwargs, pad=self.pad_token_id, ends=self.ends,
                decoder_only=True, device=self.device,
            )
        count = len(sequences) // len(batch)
        rows = collected.rows if collected is not None and collected.rows else None
        return [(x, sequences[i * count : (i + 1) * count], rows[i * count : (i + 1) * count] if rows else None)
                for i, x in enumerate(batch)]

    def forward_stream(self, x, emit, **params):
        if self.fast is not None:
            out = self.fast.generate(x["ids"], params, x["max_new_tokens"], emit=emit, decode=self._decode).tolist()
            return x, out, None
        import torch

        kwargs = self._kwargs(x, params)
        recorder, logprobs = (gen.LogprobRecorder(), []) if params.get("details") else (None, None)
        if recorder is not None:
            kwargs = {**kwargs, "logits_processor": [recorder, *kwargs.get("logits_processor", [])]}
        ids = torch.tensor([x["ids"]], device=self.device)
        with gen.drawing(kwargs, params.get("seed")):
            out = gen.stream_generate(self.model.generate, self._decode, x["ids"], emit, recorder, logprobs,
                                      input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        return x, out.tolist(), [logprobs] if logprobs else None

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def postprocess(self, outputs, return_full_text=True, details=False, seed=None, **_) -> list[dict]:
        x, sequences, logprobs = outputs
        prompt_text = self._decode(x["ids"])
        results = []
        for n, sequence in enumerate(sequences):
            # Decode the whole sequence and cut the decoded prompt off (as transformers' pipeline does),
            # so the first new word keeps its leading space with every kind of tokenizer.
            new = self._decode(sequence)[len(prompt_text) :]
            result = {"generated_text": (x["text"] + new) if return_full_text else new}
            if details:
                result["details"] = self.details(x, sequence, logprobs[n] if logprobs and n < len(logprobs) else None,
                                                 seed)
            results.append(result)
        return results

    def details(self, x, sequence: list[int], logprobs: list | None, seed: int | None) -> dict:
        """TGI's details of one sequence: its new tokens (id, text, log-probability where known, special) and
        why it stopped ("eos_token", "length")."""
        new = list(sequence[len(x["ids"]) :])
        while new and new[-1] == self.pad_token_id and self.pad_token_id not in self.ends:  # padding after the end
            new.pop()
        special = set(self.tokenizer.all_special_ids)
        known = logprobs if logprobs is not None and len(logprobs) >= len(new) else [None] * len(new)
        tokens = [{"id": int(i), "text": self.tokenizer.decode([i]), "logprob": known[k], "special": i in special}
                  for k, i in enumerate(new)]
        finish = "eos_token" if new and new[-1] in self.ends else "length"
        return {"finish_reason": finish, "generated_tokens": len(new), "seed": seed, "prefill": [], "tokens": tokens}


TASK = TextGeneration
