"""The options ``modeldeck.load()`` takes besides task, model and device, and their checks."""

from __future__ import annotations

import os
from typing import Any

from .errors import InvalidInput, UnknownParameter, did_you_mean

# What modeldeck.load() takes besides task, model and device.
LOAD_OPTIONS = {
    "allow_pickle": "load pickle-only weights (tensors only)",
    "trust_remote_code": "run Python code from the model's repo",
    "batch_wait": "seconds the engine waits for requests to batch with (0: no batching)",
    "runtime": "auto, torch, onnx or ctranslate2 (CPU fast paths; see modeldeck.runtimes)",
    "quantize": "int8 on a fast runtime (or none)",
    "dtype": "auto, fp32, bf16 (CPUs with native bf16, GPUs) or fp16 (GPUs); see modeldeck.dtypes",
    "max_queue": "calls taken at once (waiting or running) before more are refused (MODELDECK_MAX_QUEUE)",
}
DEFAULT_LOAD_WAIT = 60.0


def load_wait_from_env() -> float:
    raw = os.environ.get("MODELDECK_LOAD_WAIT", "").strip()
    try:
        return float(raw) if raw else DEFAULT_LOAD_WAIT
    except ValueError:
        raise InvalidInput(f"MODELDECK_LOAD_WAIT={raw!r} is not a number of seconds.") from None


def check_options(options: dict[str, Any]) -> None:
    """Refuse options load() does not know, listing the ones it does."""
    for name in options:
        if name not in LOAD_OPTIONS:
            raise UnknownParameter(
                f"modeldeck.load() has no option {name!r}.",
                did_you_mean(name, LOAD_OPTIONS)
                or f"It takes: {', '.join(LOAD_OPTIONS)} (task parameters go to the runner's call, not to load).",
            )
    wait = options.get("batch_wait")
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 10):
        raise InvalidInput(f"batch_wait must be a number of seconds from 0 to 10, not {wait!r}.")
    queue = options.get("max_queue")
    if queue is not None and (isinstance(queue, bool) or not isinstance(queue, int) or not 1 <= queue <= 1_000_000):
        raise InvalidInput(f"max_queue must be a whole number from 1 to 1000000, not {queue!r}.")
    from .dtypes import check_options as check_dtype
    from .runtimes import check_options as check_runtime

    check_runtime(options)
    check_dtype(options)
