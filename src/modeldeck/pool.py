"""Models loaded in this process, reused across calls, least recently used first out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .task import Task


class Pool:
    """Loaded runners keyed by (task, model, device, options)."""

    def __init__(self, max_models: int = 8):
        self.max_models = max_models
        self._runners: OrderedDict[tuple, Task] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, task_name: str, model: str | None = None, device: str | None = None, **options: Any) -> Task:
        """The runner for ``task_name`` on ``model``, loading it on first use."""
        from . import hub
        from .backends import quiet_libraries
        from .backends.device import pick_device
        from .pipelines import get_task

        task_cls = get_task(task_name)
        named = model is not None  # a named model is never swapped for the offline default
        model = model or task_cls.spec.default_model
        device = pick_device(device)
        key = (task_cls.spec.name, model, device, tuple(sorted(options.items())))
        with self._lock:
            if key in self._runners:
                self._runners.move_to_end(key)
                return self._runners[key]
            if named:
                resolved = hub.resolve(model)
            else:
                resolved = hub.resolve_default(model, task_cls.spec.offline_default)
            quiet_libraries()
            runner = task_cls(resolved.path, resolved.id, device=device, **options)
            self._runners[key] = runner
            while len(self._runners) > self.max_models:
                self._runners.popitem(last=False)
            return runner

    def loaded(self) -> list[Task]:
        with self._lock:
            return list(self._runners.values())

    def clear(self) -> None:
        with self._lock:
            self._runners.clear()


default_pool = Pool()
