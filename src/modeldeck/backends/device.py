"""Pick the device and dtype a model runs in."""

from __future__ import annotations

import re

from .. import settings
from ..errors import InvalidInput


def pick_device(requested: str | None = None) -> str:
    """'cuda' when a GPU is there, then 'mps', else 'cpu'; an explicit choice wins."""
    choice = (requested or settings.device()).strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", choice):
        raise InvalidInput(f"Unknown device {choice!r}.", "Use auto, cpu, cuda, cuda:N (a GPU index) or mps.")
    if choice != "auto":
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
