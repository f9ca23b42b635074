"""Which models the server has and which tasks each serves; loading runners; the queue bound per model.

Models come only from this machine (the Hugging Face cache, packaged models,
and folders the operator preloaded): a request never downloads a model or
reads a path it names; a missing model answers 404 with the pull command.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from ..errors import InvalidModelId, ModelNotAvailable
from ..openai_names import OPENAI_ALIASES  # noqa: F401 - re-exported: the server's OpenAI names
from .config import ServerConfig
from .errors import ClientError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95}){0,2}(@[\w./-]{1,100})?$", re.ASCII)
CACHE_SECONDS = 30.0  # a model pulled while the server runs is seen within this long


class Models:
    """The served models: which tasks each serves (checked on disk, remembered briefly), and the queues."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.local: dict[str, Path] = {}  # preloaded folders, by the name the operator gave
        self._tasks: dict[str, tuple[float, list[str]]] = {}
        self._runners: dict[tuple[str, str | None], tuple[float, object]] = {}
        self._lock = threading.Lock()

    # -- names ------------------------------------------------------------------------------------

    def check_id(self, model: str) -> None:
        """Refuse anything but a hub id (or a folder the operator preloaded): requests never name paths."""
        from ..refs import check_name_length, shorten

        if model in self.local:
            return
        check_name_length(model)  # as Python says it, the id shortened
        if not HUB_ID.match(model) or ".." in model or "--" in model or model.startswith((".", "/", "~")):
            raise InvalidModelId(
                f"{shorten(model)!r} is not a model id this server takes.",
                "Use a hub id like 'org/name' (the server does not open folders named in requests).",
            )
        if Path(model).expanduser().is_dir():
            raise InvalidModelId(
                f"{model!r} names a folder on the server, and the server does not open folders named in requests.",
                f"Start the server with --preload {model} to serve it.",
            )

    def folder(self, model: str) -> Path | None:
        """Where ``model`` is on this machine, or None (never downloads)."""
        from huggingface_hub.errors import HFValidationError

        from ..hub import cached_snapshot, packaged_path
        from ..refs import ModelRef

        if model in self.local:
            return self.local[model]
        ref = ModelRef.parse(model)
        try:
            return cached_snapshot(ref) or (packaged_path(ref.id) if ref.revision is None else None)
        except HFValidationError as e:  # an id the hub would refuse (e.g. ending in '-')
            raise InvalidModelId(f"{model!r} is not a valid model id ({str(e).splitlines()[0]}).",
                                 "Use a hub id like 'org/name'.") from None

    def tasks_for(self, model: str) -> list[str]:
        """The served tasks ``model`` runs; ModelNotAvailable (404) when it is not here."""
        now = time.monotonic()
        with self._lock:
            known = self._tasks.get(model)  # only ids that passed check_id are remembered
        if known is not None and now - known[0] < CACHE_SECONDS:
            return known[1]
        from ..catalog import tasks_for

        folder = self.folder_or_404(model)
        tasks = [t for t in tasks_for(model.split("@")[0], folder) if self.config.serves(t)]
        with self._lock:
            self._tasks[model] = (now, tasks)
        return tasks

    def require(self, model: str, task: str) -> None:
        """Refuse ``task`` on ``model`` unless the model serves it (400 naming what it does serve)."""
        tasks = self.tasks_for(model)
        if task not in tasks:
            served = ", ".join(tasks) or "no task this server runs"
            raise ClientError(
                400, f"Model {model} does not serve {task}; it serves: {served}.", param="model",
                hint="Pick a model made for this task (GET /v1/models lists them).", code="wrong_task",
            )

    # -- runners ----------------------------------------------------------------------------------

    def runner(self, task: str, model: str | None):
        """The pooled runner (blocking: loads on first use). ``model`` None: the task's default.

        Each takes at most ``--queue-size`` requests at once (waiting or running): over that, the runner
        refuses at once (ModelBusy: 503 with Retry-After), before anything is sent."""
        import modeldeck

        now = time.monotonic()
        with self._lock:
            known = self._runners.get((task, model))
        if known is not None and now - known[0] < CACHE_SECONDS:  # (the handle stays valid: the pool reloads
            return known[1]  # an evicted model in place); the disk is looked at again after a while
        name = str(self.local.get(model, model)) if model is not None else None
        if model is not None and model not in self.local:
            self.folder_or_404(model)
        runner = modeldeck.load(task, name, max_queue=self.config.queue_size)
        with self._lock:
            self._runners[(task, model)] = (now, runner)
        return runner

    def folder_or_404(self, model: str) -> Path:
        """Where ``model`` is on this machine, after its id is checked; ModelNotAvailable (404) when it is not here."""
        self.check_id(model)
        folder = self.folder(model)
        if folder is None:
            raise ModelNotAvailable(
                f"Model {model} is not on this server.",
                f"Download it on the server with: modeldeck pull {model.split('@')[0]}",
            )
        return folder

    def loaded(self) -> list[dict]:
        """The loaded models, for /ready (here: the local pool's runners)."""
        from .. import held

        return held.loaded()

    def held(self) -> list[dict]:
        """The loaded models for ``modeldeck ps`` (GET /api/ps): memory, runtime, dtype, queue, calls served."""
        from .. import held

        return held.models()

    def stop(self, model: str, task: str | None = None) -> list[dict]:
        """Unload ``model`` (POST /api/stop); ModelNotAvailable (404) when it is not loaded."""
        from .. import held

        return held.stop(model, task)

    def preload(self) -> None:
        """Load every ``--preload`` model (blocking), so the first request does not wait for it."""
        from ..pipelines import canonical_name

        for entry in self.config.preload:
            task, _, model = entry.rpartition("=")
            path = Path(model).expanduser()
            if path.is_dir():
                self.local[model] = path.resolve()
            tasks = [canonical_name(task)] if task else self.tasks_for(model)[:1]
            if not tasks:
                raise ClientError(400, f"{model} serves none of the tasks this server runs.", param="preload")
            for name in tasks:
                self.runner(name, model)
