"""Models loaded in this process, reused across calls, least recently used first out.

The pool keeps loaded runners under a memory budget: before a model loads,
its resident memory is predicted from its safetensors headers
(``memory.predict_bytes``); least recently used runners on the same device
are evicted until it fits, and a model that cannot fit even alone is refused
before anything loads, with the numbers.

Budget: ``MODELDECK_MEMORY_BUDGET`` as a size (``16GB``, ``12GiB``) or a share
of the device's memory (``60%``); ``none`` turns the check off. Default:
70% of RAM (of the GPU's memory for CUDA models).
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInput, ModelTooLarge
from .task import Task

DEFAULT_SHARE = 0.70


def memory_budget(device: str = "cpu") -> int | None:
    """Bytes of memory modeldeck may fill with models on ``device`` (None: no limit)."""
    from .memory import parse_bytes

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


def predicted_size(path, device: str) -> int:
    """Predicted resident memory of the model in folder ``path`` on ``device`` (headers only)."""
    from pathlib import Path

    from . import memory
    from .errors import ModeldeckError

    try:
        weights = memory.local_weights(Path(path))
    except (ModeldeckError, OSError):
        return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return memory.predict_bytes(weights, memory.load_dtype(device), device)


def device_kind(device: str) -> str:
    return device if device.startswith("cuda") else "cpu"  # MPS shares RAM with the CPU


@dataclass
class Loaded:
    runner: Task
    device: str
    predicted: int


class Pool:
    """Loaded runners keyed by (task, model, device, options), LRU under a memory budget."""

    def __init__(self, max_models: int = 8, budget: int | str | None = "env"):
        self.max_models = max_models
        self.budget = budget  # "env": MODELDECK_MEMORY_BUDGET / default share, read at each load
        self._loaded: OrderedDict[tuple, Loaded] = OrderedDict()
        self._lock = threading.RLock()

    def budget_for(self, device: str) -> int | None:
        if self.budget == "env":
            return memory_budget(device)
        if isinstance(self.budget, str):
            from .memory import parse_bytes

            return parse_bytes(self.budget)
        return self.budget

    def used(self, device: str) -> int:
        """Predicted bytes of the runners loaded on ``device``'s memory."""
        kind = device_kind(device)
        with self._lock:
            return sum(e.predicted for e in self._loaded.values() if device_kind(e.device) == kind)

    def get(self, task_name: str, model: str | None = None, device: str | None = None, **options: Any) -> Task:
        """The runner for ``task_name`` on ``model``, loading it on first use."""
        from . import hub
        from .backends import quiet_libraries
        from .backends.device import pick_device
        from .backends.transformers import allowing
        from .pipelines import get_task

        task_cls = get_task(task_name)
        named = model is not None  # a named model is never swapped for the offline default
        model = model or task_cls.spec.default_model
        device = pick_device(device)
        key = (task_cls.spec.name, model, device, tuple(sorted(options.items())))
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key].runner
            if named:
                resolved = hub.resolve(model)
            else:
                resolved = hub.resolve_default(model, task_cls.spec.offline_default)
            predicted = predicted_size(resolved.path, device)
            self.make_room(resolved.id, predicted, device)
            quiet_libraries()
            with allowing(
                resolved.id,
                allow_pickle=options.get("allow_pickle", False),
                trust_remote_code=options.get("trust_remote_code", False),
            ):
                runner = task_cls(resolved.path, resolved.id, device=device, **options)
            self._loaded[key] = Loaded(runner, device, predicted)
            while len(self._loaded) > self.max_models:
                self._evict(next(iter(self._loaded)))
            return runner

    def make_room(self, model: str, predicted: int, device: str) -> None:
        """Evict least recently used runners on ``device`` until ``predicted`` bytes fit the budget."""
        from .memory import format_bytes

        budget = self.budget_for(device)
        if budget is None:
            return
        if predicted > budget:
            raise ModelTooLarge(
                f"{model} needs about {format_bytes(predicted)} of {'GPU memory' if device.startswith('cuda') else 'RAM'}"
                f" on {device}, more than modeldeck's memory budget of {format_bytes(budget)}, even with nothing "
                "else loaded.",
                f"Raise the budget (MODELDECK_MEMORY_BUDGET=90% or =16GB), pick a smaller model, or see "
                f"'modeldeck estimate {model} --device {device}'.",
            )
        kind = device_kind(device)
        while self.used(device) + predicted > budget:
            oldest = next((k for k, e in self._loaded.items() if device_kind(e.device) == kind), None)
            if oldest is None:
                break
            self._evict(oldest)

    def _evict(self, key: tuple) -> None:
        entry = self._loaded.pop(key)
        del entry
        gc.collect()
        if key[2].startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def loaded(self) -> list[Task]:
        with self._lock:
            return [e.runner for e in self._loaded.values()]

    def stats(self) -> list[dict]:
        """What is loaded: task, model, device and predicted bytes, least recently used first."""
        with self._lock:
            return [
                {"task": k[0], "model": e.runner.model_id, "device": e.device, "predicted_bytes": e.predicted}
                for k, e in self._loaded.items()
            ]

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()
            gc.collect()


default_pool = Pool()
