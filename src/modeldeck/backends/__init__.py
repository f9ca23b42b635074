"""How models are loaded: device and dtype choice, safety checks, quiet libraries."""

from __future__ import annotations

import os
from functools import cache


@cache
def quiet_libraries() -> None:
    """Silence per-load progress bars and info logs from transformers (shown again with MODELDECK_DEBUG=1)."""
    if os.environ.get("MODELDECK_DEBUG") == "1":
        return
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 64 << 20  # buffers under this come from the heap and are reused, not mapped afresh
TRIM_THRESHOLD = 256 << 20  # free memory kept at the heap's top before it goes back (eviction trims all)


@cache
def tune_allocator() -> bool:
    """Keep torch's working buffers in one reused malloc heap (glibc only; once per process).

    Models run on their engine's worker thread, and glibc gives each new thread an arena of its own
    whose freed buffers go back to the system and come back as fresh pages: Stable Diffusion's
    steps took 2.9 million page faults per call there against 0.3 million on the main thread, and
    ran 20-25% slower (bench/diffusion.py). One arena, buffers under 64 MiB kept in the heap and
    256 MiB of slack before trimming make the worker's steady state fault-free; the pool still
    gives the memory back when it evicts a model (malloc_trim). Left alone when the user set any
    MALLOC_* tuning, or MODELDECK_MALLOC=default."""
    if os.environ.get("MODELDECK_MALLOC", "").strip().lower() == "default":
        return False
    if any(k.startswith("MALLOC_") for k in os.environ) or any(k.startswith("GLIBC_TUNABLES") for k in os.environ):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return False
    ok = mallopt(_M_ARENA_MAX, 1) == 1
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and ok
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    return ok
