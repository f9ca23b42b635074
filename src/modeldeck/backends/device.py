"""Pick the device and dtype a model runs in."""

from __future__ import annotations

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


def pick_dtype(device: str):
    """fp32 on CPUs (fast and exact there), fp16 on GPUs, bf16 where the GPU supports it."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32
