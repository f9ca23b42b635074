"""Models loaded in this process, reused across calls, least recently used first out.

The pool keeps loaded models under a memory budget (``memory.memory_budget``).
Each (task, model, device, options) has one ``Runner``, a stable handle; the
loaded model behind it (a ``Task``) is swapped in and out. Before a model
loads, its resident memory is predicted from its safetensors headers and room
is reserved: loads wait in arrival order, the first in line evicts idle models
(least recently used first) until it fits, and waits only while the models in
its way are really in use. A model that cannot fit even alone is refused
before anything loads; a load that waits longer than ``MODELDECK_LOAD_WAIT``
(60 s) fails naming the models in use.

A model in use is leased and never evicted. Eviction takes a model from its
handle under the pool's lock, and frees it after: calls in flight keep what
they hold, and nothing is taken apart under a running pass. Calling an evicted
runner loads it again, in place.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .errors import (
    InvalidInput, ModelBusy, ModeldeckError, ModelTooLarge, TaskFailed, UnknownParameter, WrongModelType, did_you_mean,
)
from .memory import device_kind, device_memory, memory_budget, predicted_size  # noqa: F401 - re-exported
from .runner import Runner
from .task import Task

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
        config = json.loads(path.read_text()) if path is not None and path.is_file() else None
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None  # a list is a broken config: integrity names it


def load_failure(spec, model: str, error: Exception) -> ModeldeckError:
    """A modeldeck error for a library error raised while loading ``model`` for a task."""
    text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if "Unrecognized configuration class" in str(error) or "Unrecognized model" in str(error):
        from .heads import unrecognised

        return unrecognised(spec, model, model_config(model))  # in modeldeck's words, no library class names
    return TaskFailed(
        f"Loading {model} for {spec.name} failed: {type(error).__name__}: {text}",
        "Check that the model is made for this task; run again with --debug for the traceback.",
    )


def check_model_type(spec, model: str) -> None:
    """Refuse, before any download or load, a model whose architecture the task does not run."""
    from .heads import check as check_head

    config = model_config(model)
    kind = (config or {}).get("model_type")
    if spec.model_types and kind is not None and kind not in spec.model_types:
        raise WrongModelType(
            f"{model} is a {kind!r} model; {spec.name} runs {', '.join(repr(t) for t in spec.model_types)} models.",
            f"Use a model made for {spec.name} (default: {spec.default_model}); 'modeldeck tasks' lists the tasks, "
            f"or run this model with the task it was made for.",
        )
    check_head(spec, model, config)  # the architectures config.json names against the classes the task runs


@dataclass(eq=False)
class Entry:
    """One runner's place in the pool: its handle, the loaded model (None while evicted), and its use."""

    key: tuple
    runner: Runner
    model: str  # as asked (a named model is never swapped for the offline default)
    named: bool
    state: Task | None = None
    loading: Future | None = None  # set while a load of it is in progress
    path: Any = None  # the folder it resolved to, once loaded
    predicted: int = 0
    reserved: bool = False  # its predicted memory counts toward the budget (loaded, or loading)
    leases: int = 0

    @property
    def device(self) -> str:
        return self.runner.device

    @property
    def idle(self) -> bool:
        return self.state is not None and self.leases == 0 and self.loading is None


class Pool:
    """Runners keyed by (task, model, device, options); their models loaded LRU under a memory budget."""

    def __init__(self, max_models: int = 8, budget: int | str | None = "env", wait: float | None = None):
        self.max_models = max_models
        self.budget = budget  # "env": MODELDECK_MEMORY_BUDGET / default share, read at each load
        self.wait = wait  # seconds a load waits for models in use to free room (None: MODELDECK_LOAD_WAIT)
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()  # least recently used first
        self._waiting: list[Entry] = []  # loads waiting for room, in arrival order
        self._cond = threading.Condition(threading.RLock())

    def budget_for(self, device: str) -> int | None:
        if self.budget == "env":
            return memory_budget(device)
        if isinstance(self.budget, str):
            from .memory import parse_bytes

            return parse_bytes(self.budget)
        return self.budget

    def used(self, device: str) -> int:
        """Predicted bytes of the models loaded (or loading) on ``device``'s memory."""
        kind = device_kind(device)
        with self._cond:
            return sum(e.predicted for e in self._entries.values() if e.reserved and device_kind(e.device) == kind)

    # -- getting and leasing runners ---------------------------------------------------------------

    def get(self, task_name: str, model: str | None = None, device: str | None = None, **options: Any) -> Runner:
        """The runner for ``task_name`` on ``model``, its model loaded (on first use, or again if evicted)."""
        from .backends.device import pick_device
        from .pipelines import get_task

        check_options(options)
        task_cls = get_task(task_name)
        named = model is not None
        model = model or task_cls.spec.default_model
        device = pick_device(device)
        key = (task_cls.spec.name, model, device, tuple(sorted(options.items())))
        with self._cond:
            entry = self._entries.get(key)
            if entry is None:
                runner = Runner(self, key, task_cls, model, device, options)
                entry = self._entries[key] = Entry(key, runner, model, named)
        with self.lease(entry.runner):
            pass
        return entry.runner

    @contextmanager
    def lease(self, runner: Runner):
        """The runner's loaded model, kept loaded for the block (loaded again first if it was evicted)."""
        entry = self._entry(runner)
        state = self._acquire(entry)
        try:
            yield state
        finally:
            with self._cond:
                entry.leases -= 1
                self._cond.notify_all()

    def engine_of(self, runner: Runner):
        """The engine of the runner's loaded model (None while it is not loaded)."""
        entry = self._entries.get(runner.key)
        state = entry.state if entry is not None else None
        return state.engine if state is not None else None

    def _entry(self, runner: Runner) -> Entry:
        with self._cond:
            entry = self._entries.get(runner.key)
            if entry is None or entry.runner is not runner:  # dropped after a failed first load: back in
                entry = self._entries[runner.key] = Entry(runner.key, runner, runner.model_id, True)
            return entry

    def _acquire(self, entry: Entry) -> Task:
        """Lease the entry's model, loading it (in line with other loads) when it is not loaded."""
        while True:
            with self._cond:
                while entry.state is not None and entry.leases == 0 and self._in_line(entry.device):
                    # loads are waiting for room, and this idle model may be the room they need: wait
                    # until they have it (this lease then reloads the model, if it was evicted).
                    self._cond.wait(0.5)
                if entry.state is not None:
                    entry.leases += 1
                    self._entries.move_to_end(entry.key)
                    return entry.state
                loading, owner = entry.loading, entry.loading is None
                if owner:
                    loading = entry.loading = Future()
            if not owner:
                error = loading.exception()
                if error is not None:
                    raise error
                continue
            try:
                state = self._load(entry)
            except BaseException as e:
                with self._cond:
                    entry.loading = None
                    if entry.path is None and self._entries.get(entry.key) is entry:
                        del self._entries[entry.key]  # never loaded: nothing to keep
                    self._cond.notify_all()
                loading.set_exception(e)
                raise
            with self._cond:
                entry.state, entry.loading = state, None
                entry.leases += 1
                self._entries.move_to_end(entry.key)
                runner = entry.runner
                runner.model_id, runner.runtime, runner.precision = state.model_id, state.runtime, state.precision
                extra = self._over_max_models()
                self._cond.notify_all()
            loading.set_result(state)
            self._free(extra)
            return state

    def _in_line(self, device: str) -> bool:
        kind = device_kind(device)
        return any(device_kind(w.device) == kind for w in self._waiting)

    def _load(self, entry: Entry) -> Task:
        """Resolve, check and reserve room for the entry's model, then load it (not under the lock)."""
        from . import dtypes, hub
        from .backends import quiet_libraries
        from .backends.transformers import allowing
        from .integrity import check as check_integrity

        runner = entry.runner
        spec, options = runner.spec, runner.options
        if entry.path is None:
            check_model_type(spec, entry.model)
            resolved = hub.resolve(entry.model) if entry.named else hub.resolve_default(entry.model, spec.offline_default)
            model_id, path = resolved.id, resolved.path
        else:
            model_id, path = runner.model_id, entry.path
        check_integrity(path, model_id)  # a truncated or missing file: named, with the repair, before loading
        dtype = dtypes.choose(spec.name, runner.device, options)  # fp32, bf16 or fp16; refused here, with the reason
        predicted = predicted_size(path, runner.device, model_id, dtype)
        victims: list[Entry] = []
        try:
            self._reserve(entry, predicted, model_id, victims)
        finally:
            self._free(victims)
        try:
            quiet_libraries()
            with allowing(model_id, allow_pickle=options.get("allow_pickle", False),
                          trust_remote_code=options.get("trust_remote_code", False),
                          task=(spec.name, spec.default_model)), \
                    dtypes.loading(dtype, dtypes.requested(options)) as loaded:  # torch loaders read the dtype
                try:
                    state = runner.task(path, model_id, device=runner.device, **options)
                except ModeldeckError:
                    raise
                except Exception as e:  # noqa: BLE001 - a library refused the model: say which, and why
                    raise load_failure(spec, model_id, e) from e
            dtypes.settle(state, loaded)  # state.precision: the dtype its torch model runs in
        except BaseException:
            with self._cond:
                entry.reserved, entry.predicted = False, 0
                self._cond.notify_all()
            raise
        entry.path = path
        return state

    def _reserve(self, entry: Entry, predicted: int, model: str, victims: list[Entry]) -> None:
        """Count ``predicted`` bytes for the entry against its device's budget, in arrival order: evict idle
        models (into ``victims``, freed by the caller) or wait for models in use to finish."""
        from .memory import format_bytes

        device = entry.device
        budget = self.budget_for(device)
        if budget is not None and predicted > budget:
            raise ModelTooLarge(
                f"{model} needs about {format_bytes(predicted)} of "
                f"{'GPU memory' if device.startswith('cuda') else 'RAM'} on {device}, more than modeldeck's memory "
                f"budget of {format_bytes(budget)}, even with nothing else loaded.",
                f"Raise the budget (MODELDECK_MEMORY_BUDGET=90% or =16GB), pick a smaller model, or see "
                f"'modeldeck estimate {model} --device {device}'.",
            )
        kind = device_kind(device)
        wait = load_wait_from_env() if self.wait is None else self.wait
        deadline = time.monotonic() + wait
        with self._cond:
            self._waiting.append(entry)
            try:
                while True:
                    first = next(w for w in self._waiting if device_kind(w.device) == kind)
                    others = [e for e in self._entries.values() if e is not entry and device_kind(e.device) == kind]
                    if first is entry:
                        used = sum(e.predicted for e in others if e.reserved)
                        if budget is None or used + predicted <= budget:
                            entry.predicted, entry.reserved = predicted, True
                            return
                        idle = next((e for e in others if e.idle), None)  # least recently used first
                        if idle is not None:
                            victims.append(self._unhook(idle))
                            continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        busy = [e.runner.model_id for e in others if e.reserved or e.loading is not None]
                        raise ModelBusy(
                            f"{model} needs {format_bytes(predicted)} but the memory budget "
                            f"({format_bytes(budget)}) is held by models in use: {', '.join(busy)}; waited {wait:g} s.",
                            "Try again when they finish, raise MODELDECK_MEMORY_BUDGET, or raise MODELDECK_LOAD_WAIT.",
                        )
                    self._cond.wait(min(left, 1.0))
            finally:
                self._waiting.remove(entry)
                self._cond.notify_all()

    def _unhook(self, entry: Entry) -> Entry:
        """Take the loaded model from its handle (under the lock); ``_free`` lets go of it after."""
        victim = Entry(entry.key, entry.runner, entry.model, entry.named, state=entry.state)
        entry.state, entry.reserved, entry.predicted = None, False, 0
        return victim

    def _over_max_models(self) -> list[Entry]:
        loaded = [e for e in self._entries.values() if e.state is not None]
        extra = []
        for entry in loaded:
            if len(loaded) - len(extra) <= self.max_models:
                break
            if entry.idle:
                extra.append(self._unhook(entry))
        return extra

    def _free(self, victims: list[Entry]) -> None:
        """Let go of unhooked models (not under the lock): their engines take no more work, memory goes back."""
        for victim in victims:
            victim.state.close()
            device = victim.device
            victim.state = None
            free_memory(device)
        victims.clear()

    # -- what is loaded ----------------------------------------------------------------------------

    def loaded(self) -> list[Runner]:
        with self._cond:
            return [e.runner for e in self._entries.values() if e.state is not None]

    def stats(self) -> list[dict]:
        """What is loaded: task, model, device, predicted bytes, calls in use and engine figures, LRU first."""
        with self._cond:
            entries = [e for e in self._entries.values() if e.state is not None]
        rows = []
        for e in entries:
            stats = e.runner.stats()
            state = e.state
            rows.append({
                "task": e.key[0], "model": e.runner.model_id, "device": e.device, "predicted_bytes": e.predicted,
                "in_use": e.leases, "runtime": e.runner.runtime,
                "precision": e.runner.precision or (dtype_of(state) if state is not None else None), **stats,
            })
        return rows

    def unload(self, runner: Runner) -> bool:
        """Let go of the runner's model now, in use or not (calls in flight finish on what they hold);
        the next call loads it again. False when it was not loaded."""
        with self._cond:
            entry = self._entries.get(runner.key)
            if entry is None or entry.state is None:
                return False
            victim = self._unhook(entry)
            self._cond.notify_all()
        self._free([victim])
        return True

    def clear(self) -> None:
        """Unload every model not in use."""
        with self._cond:
            victims = [self._unhook(e) for e in self._entries.values() if e.idle]
            self._cond.notify_all()
        self._free(victims)


DTYPE_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64", "int8": "int8"}


def dtype_of(state: Task) -> str | None:
    """The dtype a torch model runs in (its weights', or its pipeline's), as fp32 / fp16 / bf16."""
    for name in ("model", "pipe"):
        dtype = getattr(getattr(state, name, None), "dtype", None)
        if dtype is not None:
            text = str(dtype).removeprefix("torch.")
            return DTYPE_NAMES.get(text, text)
    return None


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
