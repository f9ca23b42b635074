"""The memory loaded models live under: the budget (the pool's), each device's total and free memory,
and giving freed memory back to the system. No torch import unless a GPU question is asked."""

from __future__ import annotations

import os

from ..errors import InvalidInput
from .units import parse_bytes

DEFAULT_SHARE = 0.70


def memory_budget(device: str = "cpu") -> int | None:
    """Bytes of memory modeldeck may fill with models on ``device`` (None: no limit)."""
    text = os.environ.get("MODELDECK_MEMORY_BUDGET", "").strip()
    if text.lower() in {"none", "off", "unlimited", "0"}:
        return None
    share = DEFAULT_SHARE
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            share = -1
        if not 0 < share <= 1:
            raise InvalidInput(
                f"MODELDECK_MEMORY_BUDGET={text!r} is not a share between 1% and 100%.",
                "Write it like '60%', '16GB' or 'none'.",
            )
    elif text:
        return parse_bytes(text)
    return int(device_memory(device) * share)


def device_memory(device: str) -> int:
    """Total memory of ``device``: RAM for the CPU (and MPS, which shares it), the GPU's own for CUDA."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory
    import psutil

    return psutil.virtual_memory().total


def device_kind(device: str) -> str:
    """The memory ``device`` draws on: its own for a GPU, RAM for the CPU and MPS (which shares it)."""
    return device if device.startswith("cuda") else "cpu"


def free_memory(gpu: bool = True) -> dict:
    """Available and total RAM, and free/total memory of each GPU (torch only if it is installed)."""
    import psutil

    vm = psutil.virtual_memory()
    found = {"ram_available": vm.available, "ram_total": vm.total, "gpus": []}
    if gpu:
        found["gpus"] = gpu_memory()
    return found


def gpu_memory() -> list[dict]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        gpus.append({"index": index, "name": torch.cuda.get_device_name(index), "free": free, "total": total})
    return gpus


def release(device: str) -> None:
    """Return freed memory to the system: collect garbage, trim the C heap, empty the CUDA cache."""
    import gc

    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed arenas otherwise; RSS would not drop
    except (OSError, AttributeError):
        pass
