"""Models loaded in this process, reused across calls, least recently used first out.

The pool keeps loaded runners under a memory budget (``memory.memory_budget``):
before a model loads, its resident memory is predicted from its safetensors
headers; least recently used runners on the same device are evicted until it
fits, and a model that cannot fit even alone is refused before anything loads.

Each model loads behind its own future, so a call to a loaded model never
waits for another model's download or load. A runner in use is leased and is
never evicted: a load that needs its room waits (``MODELDECK_LOAD_WAIT``
seconds, default 60) and then fails naming the models in use. An evicted
runner really lets go of its memory; calling it again loads it anew, in place.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import (
    InvalidInput, ModelBusy, ModeldeckError, ModelTooLarge, TaskFailed, UnknownParameter, WrongModelType, did_you_mean,
)
from .memory import device_kind, device_memory, memory_budget, predicted_size  # noqa: F401 - re-exported
from .task import Task

# What modeldeck.load() takes besides task, model and device.
LOAD_OPTIONS = {
    "allow_pickle": "load pickle-only weights (tensors only)",
    "trust_remote_code": "run Python code from the model's repo",
    "batch_wait": "seconds the engine waits for requests to batch with (0: no batching)",
    "runtime": "auto, torch, onnx or ctranslate2 (CPU fast paths; see modeldeck.runtimes)",
    "quantize": "int8 on a fast runtime (or none)",
    "dtype": "auto, fp32, bf16 (CPUs with native bf16, GPUs) or fp16 (GPUs); see modeldeck.dtypes",
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
    from .dtypes import check_options as check_dtype
    from .runtimes import check_options as check_runtime

    check_runtime(options)
    check_dtype(options)


def model_config(model: str) -> dict | None:
    """The model's config.json without fetching its weights: from a folder, the cache, a package, or
    (online) that one small file; None when it cannot be had cheaply."""
    from pathlib import Path

    from . import hub

    ref = hub.ModelRef.parse(model)
    folder = ref.path or hub.cached_snapshot(ref) or (hub.packaged_path(ref.id) if ref.revision is None else None)
    path = Path(folder) / "config.json" if folder is not None else None
    if path is None and not hub.is_offline():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(ref.id, "config.json", revision=ref.revision))
        except Exception:  # noqa: BLE001 - no config to peek at: resolve() reports what is wrong
            return None
    try:
        return json.loads(path.read_text()) if path is not None and path.is_file() else None
    except (OSError, ValueError):
        return None


def load_failure(spec, model: str, error: Exception) -> ModeldeckError:
    """A modeldeck error for a library error raised while loading ``model`` for a task."""
    text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if "Unrecognized configuration class" in str(error) or "Unrecognized model" in str(error):
        return WrongModelType(
            f"{model} is not a model {spec.name} can run ({text[:160]}).",
            f"Use a model made for {spec.name} (default: {spec.default_model}).",
        )
    return TaskFailed(
        f"Loading {model} for {spec.name} failed: {type(error).__name__}: {text}",
        "Check that the model is made for this task; run again with --debug for the traceback.",
    )


def check_model_type(spec, model: str) -> None:
    """Refuse, before any download or load, a model whose architecture the task does not run."""
    if not spec.model_types:
        return
    config = model_config(model)
    kind = (config or {}).get("model_type")
    if kind is None or kind in spec.model_types:
        return
    raise WrongModelType(
        f"{model} is a {kind!r} model; {spec.name} runs {', '.join(repr(t) for t in spec.model_types)} models.",
        f"Use a model made for {spec.name} (default: {spec.default_model}); 'modeldeck tasks' lists the tasks, "
        f"or run this model with the task it was made for.",
    )


@dataclass(eq=False)
class Entry:
    """One runner's place in the pool: loading (its future pending), loaded, and leased while in use."""

    key: tuple
    device: str
    future: Future = field(default_factory=Future)
    predicted: int = 0
    leases: int = 0
    revive: Task | None = None  # an evicted runner to load again in place

    @property
    def runner(self) -> Task | None:
        if self.future.done() and self.future.exception() is None:
            return self.future.result()
        return None


class Pool:
    """Loaded runners keyed by (task, model, device, options), LRU under a memory budget."""

    def __init__(self, max_models: int = 8, budget: int | str | None = "env", wait: float | None = None):
        self.max_models = max_models
        self.budget = budget  # "env": MODELDECK_MEMORY_BUDGET / default share, read at each load
        self.wait = wait  # seconds a load waits for leased runners to free room (None: MODELDECK_LOAD_WAIT)
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._evicted: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._cond = threading.Condition(threading.RLock())

    def budget_for(self, device: str) -> int | None:
        if self.budget == "env":
            return memory_budget(device)
        if isinstance(self.budget, str):
            from .memory import parse_bytes

            return parse_bytes(self.budget)
        return self.budget

    def used(self, device: str) -> int:
        """Predicted bytes of the runners loaded (or loading) on ``device``'s memory."""
        kind = device_kind(device)
        with self._cond:
            return sum(e.predicted for e in self._entries.values() if device_kind(e.device) == kind)

    # -- getting and leasing runners ---------------------------------------------------------------

    def get(self, task_name: str, model: str | None = None, device: str | None = None, **options: Any) -> Task:
        """The runner for ``task_name`` on ``model``, loading it on first use."""
        from .backends.device import pick_device
        from .pipelines import get_task

        check_options(options)
        task_cls = get_task(task_name)
        named = model is not None  # a named model is never swapped for the offline default
        model = model or task_cls.spec.default_model
        device = pick_device(device)
        key = (task_cls.spec.name, model, device, tuple(sorted(options.items())))
        with self._cond:
            entry = self._entries.get(key)
            owner = entry is None
            if owner:
                entry = self._entries[key] = Entry(key, device, revive=self._evicted.pop(key, None))
            else:
                self._entries.move_to_end(key)
        if owner:
            self._fill(entry, task_cls, model, named, options)
        return entry.future.result()

    @contextmanager
    def lease(self, runner: Task):
        """Keep ``runner`` loaded for the block (loading it again first if it was evicted)."""
        key = runner.pool_key
        while True:
            with self._cond:
                entry = self._entries.get(key)
                if entry is not None and entry.runner is runner:
                    entry.leases += 1
                    self._entries.move_to_end(key)
                    break
                if entry is not None and entry.runner is not None:
                    raise RuntimeError(f"{key} is loaded as another runner")  # one runner per key, by design
                owner = entry is None
                if owner:  # evicted: load it again, in place
                    self._evicted.pop(key, None)
                    entry = self._entries[key] = Entry(key, runner.device, revive=runner)
            if owner:
                self._fill(entry, type(runner), runner.model_id, True, dict(key[3]))
            else:
                entry.future.exception()  # wait for the load in progress, then look again
        try:
            yield runner
        finally:
            with self._cond:
                entry.leases -= 1
                self._cond.notify_all()

    def _fill(self, entry: Entry, task_cls: type, model: str, named: bool, options: dict[str, Any]) -> None:
        """Load (or reload) the entry's runner, making room first; its future gets the runner or the error."""
        from . import dtypes, hub
        from .backends import quiet_libraries
        from .integrity import check as check_integrity
        from .backends.transformers import allowing

        try:
            if entry.revive is not None:
                runner = entry.revive
                model_id, path = runner.model_id, runner.model_path
            else:
                check_model_type(task_cls.spec, model)
                resolved = hub.resolve(model) if named else hub.resolve_default(model, task_cls.spec.offline_default)
                model_id, path = resolved.id, resolved.path
            check_integrity(path, model_id)  # a truncated or missing file: named, with the repair, before loading
            dtype = dtypes.choose(task_cls.spec.name, entry.device, options)  # fp32, bf16 or fp16; refused here
            entry.predicted = predicted_size(path, entry.device, model_id, dtype)
            self._make_room(entry, model_id)
            quiet_libraries()
            with allowing(
                model_id,
                allow_pickle=options.get("allow_pickle", False),
                trust_remote_code=options.get("trust_remote_code", False),
            ), dtypes.loading(dtype, dtypes.requested(options)) as loaded:
                try:
                    if entry.revive is not None:
                        runner.reload()
                    else:
                        runner = task_cls(path, model_id, device=entry.device, **options)
                except ModeldeckError:
                    raise
                except Exception as e:  # noqa: BLE001 - a library refused the model: say which, and why
                    raise load_failure(task_cls.spec, model_id, e) from e
            dtypes.settle(runner, loaded)  # runner.precision: the dtype it runs in
            runner.pool, runner.pool_key = self, entry.key
        except BaseException as e:
            with self._cond:
                if self._entries.get(entry.key) is entry:
                    del self._entries[entry.key]
                self._cond.notify_all()
            entry.revive = None
            entry.future.set_exception(e)
            raise
        entry.revive = None
        with self._cond:
            entry.future.set_result(runner)
            self._cond.notify_all()
            while len(self._loaded_entries()) > self.max_models:
                victim = next((e for e in self._loaded_entries() if e.leases == 0 and e is not entry), None)
                if victim is None:
                    break
                self._evict(victim)

    def _loaded_entries(self) -> list[Entry]:
        return [e for e in self._entries.values() if e.runner is not None]

    def _make_room(self, entry: Entry, model: str) -> None:
        """Evict idle runners on the entry's device until it fits the budget; wait while others are in use."""
        from .memory import format_bytes

        budget = self.budget_for(entry.device)
        if budget is None:
            return
        device = entry.device
        if entry.predicted > budget:
            raise ModelTooLarge(
                f"{model} needs about {format_bytes(entry.predicted)} of "
                f"{'GPU memory' if device.startswith('cuda') else 'RAM'} on {device}, more than modeldeck's memory "
                f"budget of {format_bytes(budget)}, even with nothing else loaded.",
                f"Raise the budget (MODELDECK_MEMORY_BUDGET=90% or =16GB), pick a smaller model, or see "
                f"'modeldeck estimate {model} --device {device}'.",
            )
        kind = device_kind(device)
        wait = load_wait_from_env() if self.wait is None else self.wait
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                others = [e for e in self._entries.values() if e is not entry and device_kind(e.device) == kind]
                used = sum(e.predicted for e in others)
                if used + entry.predicted <= budget:
                    return
                idle = next((e for e in others if e.runner is not None and e.leases == 0), None)
                if idle is not None:
                    self._evict(idle)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    busy = [e.key[1] for e in others]
                    raise ModelBusy(
                        f"{model} needs {format_bytes(entry.predicted)} but the memory budget "
                        f"({format_bytes(budget)}) is held by models in use: {', '.join(busy)}; waited {wait:g} s.",
                        "Try again when they finish, raise MODELDECK_MEMORY_BUDGET, or raise MODELDECK_LOAD_WAIT.",
                    )
                self._cond.wait(left)

    def _evict(self, entry: Entry) -> None:
        """Unload an idle runner and give its memory back (called with the lock held)."""
        runner = entry.runner
        del self._entries[entry.key]
        if runner is None:
            return
        self._evicted[entry.key] = runner
        runner.unload()
        free_memory(entry.device)

    # -- what is loaded ----------------------------------------------------------------------------

    def loaded(self) -> list[Task]:
        with self._cond:
            return [e.runner for e in self._loaded_entries()]

    def stats(self) -> list[dict]:
        """What is loaded: task, model, device, predicted bytes, leases and engine figures, LRU first."""
        rows = []
        with self._cond:
            for e in self._loaded_entries():
                engine = e.runner._engine
                rows.append(
                    {
                        "task": e.key[0], "model": e.runner.model_id, "device": e.device,
                        "predicted_bytes": e.predicted, "in_use": e.leases,
                        "queue_depth": engine.queue_depth if engine else 0,
                        "forward_passes": engine.stats["forward_passes"] if engine else 0,
                        "runtime": getattr(e.runner, "runtime", "torch"),
                        "precision": getattr(e.runner, "precision", None),
                    }
                )
        return rows

    def clear(self) -> None:
        """Unload every runner not in use."""
        with self._cond:
            for entry in [e for e in self._entries.values() if e.runner is not None and e.leases == 0]:
                self._evict(entry)


def free_memory(device: str) -> None:
    """Return freed memory to the system: collect garbage, trim the C heap, empty the CUDA cache."""
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed arenas otherwise; RSS would not drop
    except (OSError, AttributeError):
        pass


default_pool = Pool()
