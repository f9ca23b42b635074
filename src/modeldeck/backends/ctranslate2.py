"""CTranslate2 for text generation on the CPU: models converted locally from the cached weights.

Conversion uses CTranslate2's own transformers converter, with two fixes for the models modeldeck
runs (CTranslate2 4.8 with transformers 5): BART configs lack ``normalize_before`` (False for BART),
and a tokenizer with fewer tokens than the model's embedding table (OPT: 50265 tokens, 50272 rows)
gets its vocabulary padded with made-up tokens, as fairseq did. The converted folder is stored under
modeldeck's home (see runtimes.py) and reused.

The task keeps its tokenizer and decoding: token ids go in, token ids come out (as a tensor shaped
like ``generate``'s), so postprocessing and streaming read the same as with torch. Seeds: a
CTranslate2 generator's random state is per worker thread and seeded when the thread starts, so a
seeded call runs on a fresh generator made under the seed (costs one load of the weights); the same
seed gives the same text (not the same text as torch with that seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import generation as gen
from .. import runtimes
from ..notices import notice


def converter(model_path: Path):
    """A TransformersConverter for a local folder, with modeldeck's fixes (see the module docstring)."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_model(self, model_class, model_name_or_path, **kwargs):
            model = super().load_model(model_class, model_name_or_path, **kwargs)
            if model.config.model_type == "bart" and not hasattr(model.config, "normalize_before"):
                model.config.normalize_before = False  # BART is post-norm; transformers 5 dropped the key
            self.vocab_size = model.config.vocab_size
            return model

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return _PaddedVocabulary(super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs), self.vocab_size)

    return Converter(str(model_path), low_cpu_mem_usage=True)


class _PaddedVocabulary:
    """A tokenizer whose vocabulary is padded with made-up tokens up to the model's embedding rows."""

    def __init__(self, tokenizer, size: int):
        self._tokenizer, self._size = tokenizer, size

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self._tokenizer.get_vocab())
        i = 0
        while len(vocab) < self._size and max(vocab.values(), default=-1) == len(vocab) - 1:
            token = f"madeupword{i:04d}"
            if token not in vocab:
                vocab[token] = len(vocab)
            i += 1
        return vocab


def convert(model_path: Path, folder: Path, precision: str) -> None:
    converter(model_path).convert(str(folder), quantization="int8" if precision == "int8" else None, force=True)


def _open(folder: Path, precision: str, kind: str):
    import ctranslate2

    cls = ctranslate2.Generator if kind == "generator" else ctranslate2.Translator
    return cls(
        str(folder), device="cpu", compute_type="int8_float32" if precision == "int8" else "float32",
        intra_threads=runtimes.cpu_threads(), inter_threads=1,
    )


class FastGenerator:
    """A converted model and how to call it; ``kind`` is "generator" (decoder-only) or "translator"."""

    runtime = "ctranslate2"

    def __init__(self, folder: Path, precision: str, kind: str, tokenizer, generation_config):
        self.folder, self.precision, self.kind = folder, precision, kind
        self.tokenizer, self.config = tokenizer, generation_config
        self.model = _open(folder, precision, kind)

    def options(self, params: dict[str, Any], max_new_tokens: int | None) -> dict[str, Any]:
        """CTranslate2 decoding options for the task's parameters, the model's own settings filling gaps
        (as transformers' generate does)."""
        c = self.config
        sampling = gen.sampling_on(params)
        beams = params.get("num_beams") or getattr(c, "num_beams", 1) or 1
        options = {
            "beam_size": beams,
            "repetition_penalty": params.get("repetition_penalty") or getattr(c, "repetition_penalty", 1.0) or 1.0,
            "no_repeat_ngram_size": getattr(c, "no_repeat_ngram_size", 0) or 0,
            "sampling_topk": 1,
        }
        if sampling:
            options["sampling_topk"] = params.get("top_k") or getattr(c, "top_k", None) or 50
            options["sampling_topp"] = params.get("top_p") or getattr(c, "top_p", None) or 1.0
            options["sampling_temperature"] = params.get("temperature") or getattr(c, "temperature", None) or 1.0
        if beams > 1:
            options["length_penalty"] = getattr(c, "length_penalty", None) or 1.0
        if self.kind == "generator":  # generate_batch counts new tokens only (the prompt is left out)
            if max_new_tokens is not None:
                options["max_length"] = max_new_tokens
            if params.get("min_length") is not None:
                options["min_length"] = params["min_length"]
            return options
        # Encoder-decoder: transformers' max_length/min_length count the decoder's start token, and a
        # forced end token takes the last place; CTranslate2 counts neither (it does count the target prefix).
        forced_end = 1 if getattr(c, "forced_eos_token_id", None) is not None else 0
        longest = params.get("max_length") or getattr(c, "max_length", None)
        if max_new_tokens is not None:
            options["max_decoding_length"] = max(1, max_new_tokens - forced_end)
        elif longest:
            options["max_decoding_length"] = max(1, longest - 1 - forced_end)
        shortest = params.get("min_length") if params.get("min_length") is not None else getattr(c, "min_length", None)
        options["min_decoding_length"] = max(0, (shortest or 0) - 1)
        return options

    def _model_for(self, params: dict[str, Any]):
        """The shared model, or for a seeded sampled call a fresh one whose random state starts at the seed."""
        if params.get("seed") is None or not gen.sampling_on(params):
            return self.model
        import ctranslate2

        ctranslate2.set_random_seed(int(params["seed"]) % (2**32))
        return _open(self.folder, self.precision, self.kind)

    def generate(self, prompt_ids: list[int], params: dict[str, Any], max_new_tokens: int, emit=None, decode=None):
        """Decoder-only: ``prompt_ids`` continued; a LongTensor [sequences, prompt + new] like generate()'s."""

        count = params.get("num_return_sequences") or 1
        tokens = self.tokenizer.convert_ids_to_tokens(prompt_ids)
        options = self.options(params, max_new_tokens)
        options["num_hypotheses"] = count if options["beam_size"] >= count else 1
        batch = [tokens] * (count // options["num_hypotheses"])  # sampled sequences: one prompt copy each
        with gen.RNG_LOCK if params.get("seed") is not None else _nothing():
            model = self._model_for(params)
            callback = _streamer(decode, prompt_ids, emit) if emit is not None and options["beam_size"] == 1 else None
            results = model.generate_batch(batch, include_prompt_in_result=False, callback=callback, **options)
        sequences = [prompt_ids + ids for r in results for ids in r.sequences_ids]
        if emit is not None and callback is None:
            emit(decode(sequences[0])[len(decode(prompt_ids)) :])
        return _pad(sequences, self.pad_id)

    def translate(self, source_ids: list[list[int]], params: dict[str, Any], prefix: list[int] | None = None,
                  max_new_tokens: int | None = None, emit=None, decode=None) -> list[list[int]]:
        """Encoder-decoder: one output id list per source (each starting with ``prefix``, if any)."""
        sources = [self.tokenizer.convert_ids_to_tokens(ids) for ids in source_ids]
        options = self.options(params, max_new_tokens)
        options["max_input_length"] = 0  # the task already fit the text to the model's window
        if prefix:
            options["target_prefix"] = [self.tokenizer.convert_ids_to_tokens(prefix)] * len(sources)
        with gen.RNG_LOCK if params.get("seed") is not None else _nothing():
            model = self._model_for(params)
            streaming = emit is not None and options["beam_size"] == 1 and len(sources) == 1
            if streaming:
                out = list(prefix or [])
                shown = decode(out)
                for step in model.generate_tokens(sources[0], **_token_options(options)):
                    if step.is_last and step.token_id == self.eos_id:
                        break
                    out.append(step.token_id)
                    text = decode(out)
                    if not text.endswith("\ufffd") and text.startswith(shown) and len(text) > len(shown):
                        emit(text[len(shown) :])
                        shown = text
                return [out]
            results = model.translate_batch(sources, **options)
        out = [r.hypotheses[0] for r in results]
        ids = [self.tokenizer.convert_tokens_to_ids(tokens) for tokens in out]
        if emit is not None:
            emit(decode(ids[0]))
        return ids

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else (self.eos_id or 0)

    @property
    def eos_id(self) -> int | None:
        return self.tokenizer.eos_token_id


def _token_options(options: dict[str, Any]) -> dict[str, Any]:
    """generate_tokens takes the greedy/sampling subset of translate_batch's options."""
    keep = ("max_decoding_length", "min_decoding_length", "sampling_topk", "sampling_topp", "sampling_temperature",
            "repetition_penalty", "no_repeat_ngram_size", "target_prefix")
    out = {k: v for k, v in options.items() if k in keep}
    if "target_prefix" in out:
        out["target_prefix"] = out["target_prefix"][0]
    return out


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _streamer(decode, prompt_ids: list[int], emit):
    """A generate_batch step callback that emits the new text as the tokens come (see generation._Emitter)."""
    ids = list(prompt_ids)
    state = {"shown": decode(ids)}

    def step(result) -> bool:
        ids.append(result.token_id)
        text = decode(ids)
        if not text.endswith("\ufffd") and text.startswith(state["shown"]) and len(text) > len(state["shown"]):
            emit(text[len(state["shown"]) :])
            state["shown"] = text
        return False  # keep going

    return step


def _pad(sequences: list[list[int]], pad: int):
    import torch

    width = max(len(s) for s in sequences)
    return torch.tensor([s + [pad] * (width - len(s)) for s in sequences], dtype=torch.long)


def load_fast(task, kind: str, tokenizer):
    """The task's CTranslate2 model when the runtime choice says so (converted now if needed), else None
    (the task loads its torch model). Sets ``task.runtime`` and ``task.precision``."""
    store = runtimes.chosen_store(task, "ctranslate2")
    if store is None:
        return None
    folder, precision = store
    try:
        runtimes.build(folder, lambda temp: convert(task.model_path, temp, precision))
        fast = FastGenerator(folder, precision, kind, tokenizer, generation_config(task.model_path))
    except Exception as e:  # noqa: BLE001 - the torch model still works: say why, and use it
        runtimes.fallback_notice(task.model_id, "ctranslate2", e)
        return None
    task.runtime, task.precision = "ctranslate2", precision
    return fast


def load_generator(task, model_class, kind: str | None = None) -> None:
    """A generative task's model, its ``tokenizer`` loaded already, and what decoding reads from it (``window``,
    ``pad_token_id``, ``ends``): CTranslate2's ``kind`` ("generator", "translator") where the runtime choice says
    so (torch is not loaded then: a stand-in carries the generation config), else the torch ``model_class``.
    ``kind`` None (chat): torch only."""
    from .transformers import load_model

    task.fast = load_fast(task, kind, task.tokenizer) if kind is not None else None
    if task.fast is not None:
        task.model = stand_in(task.model_path, task.fast.config)
    else:
        task.model = load_model(model_class, task.model_path, task.device)
    task.window = gen.model_window(task.model, task.tokenizer)
    task.pad_token_id = gen.pad_token_id(task.tokenizer, task.model.generation_config)
    task.ends = gen.end_ids(task.tokenizer, task.model.generation_config)


def generation_config(model_path: Path):
    from transformers import AutoConfig, GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model_path)
    except OSError:
        return GenerationConfig.from_model_config(AutoConfig.from_pretrained(model_path))


def stand_in(model_path: Path, generation: Any):
    """What the task reads from its model when CTranslate2 runs it: the config and generation settings."""
    from types import SimpleNamespace

    from transformers import AutoConfig

    return SimpleNamespace(config=AutoConfig.from_pretrained(model_path), generation_config=generation, runtime="ctranslate2")


__all__ = ["FastGenerator", "load_fast", "notice", "stand_in"]
