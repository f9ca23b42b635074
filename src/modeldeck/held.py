"""What a running modeldeck (server or web UI) holds, and letting go of it: the data behind ``modeldeck ps`` and
``modeldeck stop`` (HTTP: ``GET /api/ps``, ``POST /api/stop``), read from the pool, as Ollama's ps / stop.

No web framework here: the server and the UI each route to these functions.
"""

from __future__ import annotations

from typing import Any

from .errors import ModelNotAvailable

PS_FIELDS = ("task", "model", "device", "runtime", "precision", "predicted_bytes", "in_flight", "queue_depth",
             "max_queue", "answered", "failed", "refused", "forward_passes", "items")


def models(pool=None) -> list[dict[str, Any]]:
    """The loaded models, least recently used first: memory (predicted), runtime and dtype, queue, calls served."""
    pool = pool or _default_pool()
    return [{name: row.get(name) for name in PS_FIELDS} for row in pool.stats()]


def loaded(pool=None) -> list[dict[str, Any]]:
    """All the figures of each loaded model, least recently used first (``models`` keeps those ps shows): /ready."""
    return (pool or _default_pool()).stats()


def stop(model: str, task: str | None = None, pool=None) -> list[dict[str, str]]:
    """Unload ``model`` (every task it is loaded for, or only ``task``); calls in flight finish on what they hold,
    the next call loads it again. ``model`` may be a model id as asked or as resolved, or an OpenAI name
    (``whisper-1``: its task's default model). ModelNotAvailable when it is not loaded."""
    pool = pool or _default_pool()
    wanted = _task_of_alias(model)
    stopped = []
    for runner in pool.loaded():
        task_name, asked = runner.key[0], runner.key[1]
        if task is not None and task_name != task:
            continue
        if model in (asked, runner.model_id) or (wanted is not None and wanted == task_name
                                                  and asked == runner.spec.default_model):
            if pool.unload(runner):
                stopped.append({"task": task_name, "model": runner.model_id})
    if not stopped:
        loaded = sorted({r.model_id for r in pool.loaded()})
        raise ModelNotAvailable(
            f"{model} is not loaded here{' for ' + task if task else ''}.",
            f"Loaded now: {', '.join(loaded)}." if loaded else "Nothing is loaded now ('modeldeck ps' lists what is).",
        )
    return stopped


def _task_of_alias(name: str) -> str | None:
    from .openai_names import OPENAI_ALIASES

    return OPENAI_ALIASES.get(name)


def _default_pool():
    from .pool import default_pool

    return default_pool
