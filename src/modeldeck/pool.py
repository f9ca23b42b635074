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

A model id walks one way down: each step is one module the pool calls in turn
(``Pool._load``), and none calls the pool or an earlier step (the loaders phrase a
missing head found while loading with ``heads``' wording, and nothing more):

1. options (``load_options``): ``load()``'s options, checked before anything else;
2. kind (``heads.check_kind``): its config.json (``hub.model_config``: no weights fetched)
   names a model type and architectures the task runs;
3. resolve (``hub.resolve``): its folder on this machine, downloaded if need be, in a layout the
   task's loader reads (``heads.check_folder``: not a Stable Diffusion pipeline for fill-mask);
4. files (``integrity.check``): every file its loader reads is there and whole;
5. predict (``dtypes.choose``, then ``memory.predicted_size``): its bytes in the dtype it loads in;
6. reserve (``Pool._reserve``, here): room under the budget, evicting idle models;
7. load (``backends.loading``): the task's loader, under the pickle / remote-code guards.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelBusy, ModelTooLarge
from .load_options import check_options, load_wait_from_env
from .memory import (  # noqa: F401 - device_memory, memory_budget re-exported
    device_kind, device_memory, format_bytes, memory_budget, parse_bytes, predicted_size, release,
)
from .runner import Runner
from .task import Task


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
        """The walk (module docstring) for the entry's model, step by step; loading is not under the lock."""
        from . import dtypes, heads, hub, integrity
        from .backends.loading import load

        runner = entry.runner
        spec, options, device = runner.spec, runner.options, runner.device
        # a folder gone while the model was evicted ('modeldeck rm', a moved cache): walked again from its name
        if entry.path is None or not Path(entry.path).is_dir():
            heads.check_kind(spec, entry.model, hub.model_config(entry.model))  # before any download
            resolved = hub.resolve(entry.model) if entry.named else hub.resolve_default(entry.model, spec.offline_default)
            model_id, path = resolved.id, resolved.path
            heads.check_folder(spec, model_id, path)  # a layout the task's loader reads, before reading it
            runner.task.check_checkpoint(model_id, path, heads.folder_config(path))  # the task's own needs
        else:  # evicted, loading again: resolved and checked before
            model_id, path = runner.model_id, entry.path
        integrity.check(path, model_id)  # a truncated or missing file: named, with the repair, before loading
        dtype = dtypes.choose(spec.name, device, options)  # fp32, bf16 or fp16; refused here, with the reason
        predicted = predicted_size(path, device, model_id, dtype)
        victims: list[Entry] = []
        try:
            self._reserve(entry, predicted, model_id, victims)
        finally:
            self._free(victims)
        try:
            state = load(runner.task, path, model_id, device, options, dtype)
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
        devices = []
        for victim in victims:
            victim.state.close()
            devices.append(victim.device)
            victim.state = None
        victims.clear()
        for device in dict.fromkeys(devices):  # once per device: a collection and a heap trim cost as much for one
            release(device)  # model as for twenty (clearing a pool of 25 took 15 s, one release per model)

    # -- what is loaded ----------------------------------------------------------------------------

    def loaded(self) -> list[Runner]:
        with self._cond:
            return [e.runner for e in self._entries.values() if e.state is not None]

    def stats(self) -> list[dict]:
        """What is loaded: task, model, device, predicted bytes, calls in use and engine figures, LRU first."""
        with self._cond:
            entries = [e for e in self._entries.values() if e.state is not None]
        from . import dtypes

        rows = []
        for e in entries:
            stats = e.runner.stats()
            state = e.state
            rows.append({
                "task": e.key[0], "model": e.runner.model_id, "device": e.device, "predicted_bytes": e.predicted,
                "in_use": e.leases, "runtime": e.runner.runtime,
                "precision": e.runner.precision or (dtypes.running(state) if state is not None else None), **stats,
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


def prepare_graph(task_name: str, model: str, **options: Any) -> tuple[str, str | None]:
    """Make and store ``model``'s fast-runtime graph for ``task_name`` now (``modeldeck pull --runtime``):
    loaded on the CPU in a pool of its own, then let go; gives the runtime and precision it runs on."""
    pool = Pool(budget=None)  # no budget: making a graph neither counts against nor evicts the models in use
    try:
        runner = pool.get(task_name, model, "cpu", **options)
        return runner.runtime, runner.precision
    finally:
        pool.clear()


default_pool = Pool()
