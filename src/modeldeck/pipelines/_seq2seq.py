"""What summarization and translation share: an encoder-decoder model (torch, or CTranslate2), texts as
token ids made in the caller's thread, and batched generation. (A helper module, not a task.)

An item is ``{"ids": token ids of one text that fits the window, "limit": its own max_new_tokens or
None}``. Items with equal settings share one padded ``generate`` call, from any callers; each comes out
as it would alone. Sampled items run alone, each drawing from its own generator.
"""

from __future__ import annotations

from typing import Any

from .. import generation as gen
from ..task import Streaming, Task


class Seq2SeqTask(Streaming, Task):
    max_batch_size = 16

    def load(self) -> None:
        from transformers import AutoModelForSeq2SeqLM

        from ..backends.ctranslate2 import load_generator

        self.tokenizer = self.load_tokenizer()
        # runtime="ctranslate2" (or a stored conversion under "auto"): CTranslate2 generates, torch is not loaded.
        load_generator(self, AutoModelForSeq2SeqLM, "translator")
        self.count = gen.text_tokens(self.tokenizer)

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        from ..backends.transformers import load_processor

        return load_processor(AutoTokenizer, self.model_path)

    def item(self, text: str, limit: int | None = None) -> dict[str, Any]:
        """A text (that fits the window) as the model reads it."""
        return {"ids": self.tokenizer(text, truncation=True, max_length=self.window)["input_ids"], "limit": limit}

    def batch_key(self, item):
        return item["limit"]

    def cost(self, item) -> int:
        return len(item["ids"])

    def can_batch(self, params) -> bool:
        return not gen.sampling_on(params)

    def generate_kwargs(self, item: dict, params: dict) -> dict[str, Any]:
        """``generate()`` keyword arguments for an item with these (forward) parameters."""
        kwargs = gen.decoding_kwargs(params)
        if item["limit"] is not None:
            kwargs["max_new_tokens"] = item["limit"]
        return kwargs

    def forward(self, batch, **params):
        kwargs = self.generate_kwargs(batch[0], params)
        if self.fast is not None:
            return self.fast_generate([x["ids"] for x in batch], kwargs, params)
        kwargs = gen.own_draws({**kwargs, "pad_token_id": self.pad_token_id}, self.model.generation_config,
                               params.get("seed"))
        with gen.drawing(kwargs, params.get("seed")):  # beam sampling only
            return gen.generate_batch(self.model, [x["ids"] for x in batch], kwargs, pad=self.pad_token_id,
                                      ends=self.ends, decoder_only=False, device=self.device)

    def forward_stream(self, item, emit, **params):
        import torch

        kwargs = self.generate_kwargs(item, params)
        if self.fast is not None:
            return self.fast_generate([item["ids"]], kwargs, params, emit)[0]
        kwargs = gen.own_draws({**kwargs, "pad_token_id": self.pad_token_id}, self.model.generation_config,
                               params.get("seed"))
        ids = torch.tensor([item["ids"]], device=self.device)
        with gen.drawing(kwargs, params.get("seed")):
            out = gen.stream_generate(self.model.generate, self.decode, [], emit, input_ids=ids,
                                      attention_mask=torch.ones_like(ids), **kwargs)
        return out[0].tolist()

    def fast_generate(self, sources: list[list[int]], kwargs: dict, params: dict, emit=None) -> list[list[int]]:
        """The same on CTranslate2: the same tokens in, the forced first token as the target prefix."""
        forced = kwargs.get("forced_bos_token_id", self.model.generation_config.forced_bos_token_id)
        settings = {**params, **{k: kwargs[k] for k in ("min_length", "max_length", "do_sample") if k in kwargs}}
        return self.fast.translate(sources, settings, prefix=[forced] if forced is not None else None,
                                   max_new_tokens=kwargs.get("max_new_tokens"), emit=emit, decode=self.decode)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)
