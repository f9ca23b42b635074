"""Which dtype a torch model loads in: fp32, bf16 on CPUs that compute it natively, fp16/bf16 on GPUs.

The choice is a load option (``modeldeck.load(task, model, dtype="bf16")``, ``--dtype`` on ``run``,
``serve`` and ``ui``, or ``MODELDECK_DTYPE``):

- ``fp32``: full precision everywhere;
- ``bf16``: on a CPU only where it computes bf16 natively (AVX512-BF16 or AMX on x86, the BF16
  extension on Arm; read from the CPU's flags at run time). bf16 is never emulated: on a CPU
  without it, asking for bf16 is refused with the reason. On a GPU, where it supports bf16;
- ``fp16``: GPUs only;
- ``auto`` (default): on a GPU, bf16 where supported, else fp16 (as before); on a CPU with native
  bf16, bf16 only for the task families in ``AUTO_BF16``, whose agreement with fp32 was measured to
  pass modeldeck's floors (tests/test_dtype.py); fp32 for every other family and on other CPUs.

The pool resolves the choice once per load (``choose``) and carries it to the loaders in a context
variable (``loading``), the way ``backends.transformers.allowing`` carries permissions: torch loaders
(``load_model``, sentence-transformers, diffusers) read ``current()`` and say which dtype they used,
so a runner whose runtime ignores the dtype (ONNX Runtime, CTranslate2, Piper) reports its own
precision. The memory prediction follows the chosen dtype.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .errors import InvalidInput, did_you_mean

DTYPES = ("auto", "fp32", "bf16", "fp16")

# Task families for the dtype choice (the agreement floors are per family).
FAMILIES = {
    "feature-extraction": "embeddings",
    "sentence-similarity": "embeddings",
    "text-classification": "text-classification",
    "fill-mask": "text-classification",
    "question-answering": "question-answering",
    "zero-shot-image-classification": "image-audio-classification",
    "zero-shot-audio-classification": "image-audio-classification",
    "image-text-matching": "image-audio-classification",
    "text-generation": "generation",
    "chat": "generation",
    "summarization": "generation",
    "translation": "generation",
    "image-to-text": "generation",
    "visual-question-answering": "generation",
    "automatic-speech-recognition": "generation",
    "text-to-image": "image-generation",
    "image-to-image": "image-generation",
    "inpainting": "image-generation",
    "object-detection": "vision",
    "mask-generation": "vision",
    "depth-estimation": "vision",
    "text-to-speech": "speech",
}
# The floors a family's bf16 outputs must keep against fp32 before ``auto`` picks bf16 for it
# (tests/test_dtype.py measures them on the fixture hub and on the real weights that install).
FLOORS = {
    "embeddings": "cosine >= 0.999 for every text",
    "text-classification": "top-1 identical on >= 99% of a held sample",
    "question-answering": "the same answer on >= 99% of a held sample",
    "image-audio-classification": "top-1 identical on >= 99% of a held sample",
    "generation": "greedy output identical for the first 20 tokens on >= 90% of prompts",
    "image-generation": "PSNR >= 30 dB against the fp32 picture (real-size config)",
}
# Families whose agreement tests pass: ``auto`` uses bf16 for them on a CPU with native bf16.
# Measured here (2 cores AMD EPYC, AVX512-BF16), bf16 against fp32:
#   embeddings: real all-MiniLM-L6-v2, 2,000 sentences, min cosine 0.99992; fixture MiniLM 0.99998;
#   text-classification: fixture DistilBERT-SST-2 and BERT fill-mask, 200 texts, top-1 100% / 100%;
#   image-generation: Stable Diffusion v1.4-sized (random weights), 512x512, PSNR 49 dB.
# Not picked (explicit --dtype bf16 still runs them): question-answering (97% same answers), zero-shot
# image classification (CLIP fixture: 88% top-1), generation (the fixture's BART keeps its first 20 greedy
# tokens on 70% of 20 held prompts, NLLB 95%, GPT-2 and Marian 100%: tests/test_dtype.py; an earlier prompt
# set gave Marian 47%), and the families with no floor yet (detection, masks, depth, speech synthesis).
# The real offline speech weights (faster-whisper's CTranslate2 Whisper, Piper's ONNX voice) do not run on
# torch, so no dtype applies to them.
AUTO_BF16 = frozenset({"embeddings", "text-classification", "image-generation"})


def family(task_name: str) -> str:
    return FAMILIES.get(task_name, "other")


def requested(options: dict) -> str:
    """The dtype asked for: the load option, else MODELDECK_DTYPE, else auto."""
    value = options.get("dtype")
    source = "dtype"
    if value is None:
        value, source = os.environ.get("MODELDECK_DTYPE", "").strip().lower() or "auto", "MODELDECK_DTYPE"
    value = str(value).strip().lower()
    if value not in DTYPES:
        raise InvalidInput(
            f"{source} must be one of {', '.join(DTYPES)}, not {value!r}.",
            did_you_mean(value, DTYPES) or "auto (the default) picks the fastest dtype that keeps the answers.",
        )
    return value


def check_options(options: dict) -> None:
    """Refuse a dtype value modeldeck does not know (before anything loads)."""
    if options.get("dtype") is not None:
        requested(options)


def choose(task_name: str, device: str, options: dict) -> str:
    """The dtype ``task_name`` loads its torch model in on ``device``: fp32, bf16 or fp16.

    Refuses bf16 on a CPU without native bf16 and fp16 on a CPU, saying why."""
    from .backends.device import cpu_bf16, gpu_dtype

    asked = requested(options)
    runtime = options.get("runtime") or os.environ.get("MODELDECK_RUNTIME", "").strip().lower() or "auto"
    where = "--dtype" if options.get("dtype") is not None else "MODELDECK_DTYPE"
    if asked != "auto" and asked != "fp32" and runtime in ("onnx", "ctranslate2"):
        raise InvalidInput(
            f"dtype {asked} runs on torch; the {runtime} runtime runs fp32 (or int8 with --quantize).",
            f"Leave {where} out with --runtime {runtime}, or use --runtime torch for {asked}.",
        )
    if device.startswith("cuda"):
        if asked == "auto":  # diffusers pipelines are published and tested in fp16 on GPUs
            return "fp16" if family(task_name) == "image-generation" else gpu_dtype()
        if asked == "bf16" and gpu_dtype() != "bf16":
            raise InvalidInput(f"This GPU does not support bf16 ({where}=bf16).", "Use fp16 or auto on it.")
        return asked
    if device.startswith("mps"):
        if asked == "bf16":
            raise InvalidInput(f"bf16 is not offered on Apple's MPS ({where}=bf16).", "Use fp16, fp32 or auto there.")
        return "fp32" if asked == "auto" else asked
    # a CPU
    native = cpu_bf16()
    if asked == "fp16":
        raise InvalidInput(
            f"fp16 runs on GPUs only; on a CPU it is emulated and slower than fp32 ({where}=fp16).",
            "Use bf16 on a CPU that computes it natively (AVX512-BF16 or AMX), else fp32 or auto."
            if native is None else f"This CPU computes bf16 natively ({native}): use bf16, or auto.",
        )
    if asked == "bf16":
        if native is None:
            raise InvalidInput(
                f"bf16 was asked for ({where}=bf16), but this CPU does not compute bf16 natively (its flags have "
                "neither AVX512-BF16 nor AMX-BF16); modeldeck does not emulate bf16, which would be slower than fp32.",
                f"Use {where} auto or fp32 here (auto keeps fp32 on this CPU).",
            )
        return "bf16"
    if asked == "auto" and native is not None and family(task_name) in AUTO_BF16 and runtime not in ("onnx", "ctranslate2"):
        return "bf16"
    return "fp32"


def set_process_dtype(value: str, check: bool = True) -> None:
    """``serve --dtype`` / ``ui --dtype``: MODELDECK_DTYPE for every model this process loads; bf16 or fp16
    that this machine cannot run is refused now, before the server starts."""
    value = requested({"dtype": value})
    if check and value in ("bf16", "fp16"):
        from .backends.device import pick_device

        device = pick_device(None)
        choose("", device, {"dtype": value})
    os.environ["MODELDECK_DTYPE"] = value


# -- carrying the choice to the loaders -------------------------------------------------------------


@dataclass
class Loading:
    """The dtype of one load, and what the loaders did with it."""

    dtype: str = "fp32"
    asked: str = "auto"
    used: set = field(default_factory=set)  # dtypes torch loaders actually loaded in


_current: ContextVar[Loading | None] = ContextVar("modeldeck_load_dtype", default=None)


@contextmanager
def loading(dtype: str, asked: str = "auto") -> Iterator[Loading]:
    """Within this block, torch loaders load in ``dtype`` (used by the pool around a runner's load)."""
    state = Loading(dtype, asked)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def chosen() -> bool:
    """Whether a load's dtype was chosen for this context (by the pool)."""
    return _current.get() is not None


def current(device: str) -> str:
    """The dtype a torch loader should use on ``device`` now: the pool's choice, else the device's default
    (MODELDECK_DTYPE when set explicitly; fp32 on a CPU, bf16/fp16 on a GPU)."""
    state = _current.get()
    if state is not None:
        return state.dtype
    value = os.environ.get("MODELDECK_DTYPE", "").strip().lower()
    if value in ("fp32", "bf16", "fp16"):
        return value
    from .backends.device import gpu_dtype

    return gpu_dtype() if device.startswith("cuda") else "fp32"


def pick_dtype(device: str):
    """The torch dtype a torch loader loads in on ``device``: the pool's choice for this load, else fp32 on
    CPUs and bf16/fp16 on GPUs. Records that a torch loader took it."""
    name = current(device)
    used(name)
    return torch_dtype(name)


def torch_dtype(name: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


# torch dtype names -> modeldeck's
TORCH_NAMES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float64": "fp64", "int8": "int8"}


def name_of(dtype) -> str:
    """"bf16" for torch.bfloat16, "fp16" for torch.float16, "fp32" for anything else."""
    name = TORCH_NAMES.get(str(dtype).replace("torch.", ""))
    return name if name in ("bf16", "fp16") else "fp32"


def running(state) -> str | None:
    """The dtype a loaded torch model runs in (its weights', or its pipeline's): fp32, fp16, bf16..."""
    for name in ("model", "pipe"):
        dtype = getattr(getattr(state, name, None), "dtype", None)
        if dtype is not None:
            text = str(dtype).removeprefix("torch.")
            return TORCH_NAMES.get(text, text)
    return None


def used(dtype) -> None:
    """A torch loader says it loaded in ``dtype`` (a torch dtype or a name)."""
    state = _current.get()
    if state is not None:
        state.used.add(dtype if isinstance(dtype, str) else name_of(dtype))


def settle(runner, state: Loading) -> None:
    """After a load: ``runner.precision`` says the dtype a torch runner runs in (fast runtimes set their
    own); a dtype asked for by name that no torch loader took is named in a notice."""
    if state.used and getattr(runner, "runtime", "torch") == "torch":
        runner.precision = "bf16" if "bf16" in state.used else ("fp16" if "fp16" in state.used else "fp32")
    if state.asked not in ("auto", "fp32") and state.dtype not in state.used:
        from .notices import notice

        runtime = getattr(runner, "runtime", None)
        backend = runtime if runtime not in (None, "torch") else getattr(runner, "backend", None) or "its runtime"
        precision = getattr(runner, "precision", None)
        ran = f"{backend} ({precision})" if precision else backend
        notice(f"{runner.model_id} runs on {ran}; dtype {state.asked} applies to torch models only.")
