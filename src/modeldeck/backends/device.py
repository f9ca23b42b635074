"""Pick the device a model runs in, and read what its CPU computes natively (the dtype choice: modeldeck.dtypes)."""

from __future__ import annotations

import functools
import re

from .. import settings
from ..errors import InvalidInput


def device_name(requested: str | None = None) -> str:
    """The device asked for (argument, else MODELDECK_DEVICE), checked to be a device name."""
    choice = str(requested or settings.device()).strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", choice):
        raise InvalidInput(
            f"Unknown device {choice!r}.",
            f"Use auto, cpu, cuda, cuda:N (a GPU index) or mps; this machine has: {', '.join(available_devices())}.",
        )
    return choice


def available_devices() -> list[str]:
    """The devices this torch build can run on, on this machine."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return found


def unavailable_reason(device: str) -> str | None:
    """Why ``device`` cannot be used here, or None when it can."""
    import torch

    if device in available_devices() or device == "auto":
        return None
    if device.startswith("cuda"):
        if not torch.backends.cuda.is_built():
            return "this PyTorch build has no CUDA support (a CPU build)"
        if not torch.cuda.is_available():
            return "no CUDA GPU is visible"
        return f"there are {torch.cuda.device_count()} GPUs (cuda:0 to cuda:{torch.cuda.device_count() - 1})"
    return "Apple's MPS backend is not available on this machine"


def pick_device(requested: str | None = None) -> str:
    """'cuda' when a GPU is there, then 'mps', else 'cpu'; an explicit choice wins if this machine has it."""
    choice = device_name(requested)
    if choice != "auto":
        why = unavailable_reason(choice)
        if why:
            raise InvalidInput(
                f"Device {choice!r} cannot be used: {why}.",
                f"Use one of: {', '.join(available_devices())} (or auto). For a GPU build of PyTorch see the Makefile's TORCH.",
            )
        return choice
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def gpu_dtype() -> str:
    """bf16 on a CUDA GPU that supports it, else fp16."""
    import torch

    try:
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp16"
    except (RuntimeError, AssertionError):  # a CPU-only build asked about CUDA
        return "fp16"


# -- what the CPU computes natively -------------------------------------------------------------------

# CPU flags (Linux /proc/cpuinfo names) that mean native bf16 arithmetic, and how to say them.
BF16_FLAGS = {"avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16", "bf16": "Arm BF16"}


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (x86 ``flags``, Arm ``Features``); on systems
    without /proc/cpuinfo, what torch reports (AVX512-BF16 and AMX only)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    try:
        import torch

        found = set()
        if torch.cpu._is_avx512_bf16_supported():
            found.add("avx512_bf16")
        if torch.cpu._is_amx_tile_supported():
            found.add("amx_bf16")
        return frozenset(found)
    except Exception:  # noqa: BLE001 - an older torch: assume nothing
        return frozenset()


def cpu_bf16() -> str | None:
    """The CPU feature that computes bf16 natively here (e.g. "AVX512-BF16"), or None."""
    flags = cpu_flags()
    return next((name for flag, name in BF16_FLAGS.items() if flag in flags), None)


def cpu_features() -> list[str]:
    """The CPU features that matter for modeldeck's kernels (for doctor and the benchmarks)."""
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
              "asimd", "sve", "bf16", "i8mm")
    flags = cpu_flags()
    return [flag for flag in wanted if flag in flags]
