"""modeldeck: run open-source Hugging Face models on your own machine.

    >>> import modeldeck
    >>> modeldeck.run("sentiment-analysis", "I love this!")
    [{'label': 'POSITIVE', 'score': 0.9998}, ...]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ModeldeckError

if TYPE_CHECKING:
    from .spec import TaskSpec
    from .task import Task

__version__ = "0.1.0"
__all__ = ["ModeldeckError", "estimate", "load", "pull", "run", "tasks"]


def tasks() -> list[TaskSpec]:
    """Every task modeldeck runs, with its default model, inputs and parameters."""
    from .pipelines import specs

    return specs()


def load(task: str, model: str | None = None, *, device: str | None = None, **options: Any) -> Task:
    """A reusable runner for ``task``: the model loads once, then call it many times."""
    from .pool import default_pool

    return default_pool.get(task, model, device, **options)


def run(task: str, inputs: Any = None, model: str | None = None, *, device: str | None = None, **params: Any) -> Any:
    """Run ``task`` on ``inputs`` and return plain results (lists, dicts, numbers, text)."""
    from .pipelines import get_task

    task_cls = get_task(task)
    bound, params = task_cls.spec.bind(inputs, params)
    task_cls.check(bound, params)  # bad input fails before any model loads
    return load(task, model, device=device)(bound, **params)


def pull(model: str, *, progress: bool = True):
    """Download ``model`` (hub id[@revision]) into the Hugging Face cache; returns its folder."""
    from .download import pull_one

    return pull_one(model, progress=progress)


def estimate(model: str, dtype: str | None = None, device: str | None = None):
    """Predict the memory ``model`` needs, from its safetensors headers, without loading it."""
    from .memory import estimate as estimate_memory

    return estimate_memory(model, dtype=dtype, device=device)
