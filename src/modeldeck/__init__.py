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
    """Every task modeldeck runs, with its default model, inputs and parameters (a table in notebooks)."""
    from .outputs.notebook import tasks_table
    from .pipelines import specs

    return tasks_table(specs())


def load(task: str, model: str | None = None, *, device: str | None = None, **options: Any) -> Task:
    """A reusable runner for ``task``: the model loads once, then call it many times (from any thread).

    Options: ``allow_pickle``, ``trust_remote_code`` (for this model) and ``batch_wait`` (seconds to wait
    for concurrent requests to share a forward pass; 0 turns batching off). Others are refused.
    """
    from .pool import default_pool

    return default_pool.get(task, model, device, **options)


def run(task: str, inputs: Any = None, model: str | None = None, *, device: str | None = None, **params: Any) -> Any:
    """Run ``task`` on ``inputs`` (one item, or a list of items) and return plain results.

    ``on_progress=callback(done, total)`` hears the steps of tasks that report them.
    """
    from .pipelines import get_task
    from .runner import check_before_loading

    task_cls = get_task(task)
    on_progress = params.pop("on_progress", None)
    items = inputs if task_cls.is_batch(inputs) else [inputs]
    try:  # bad input, and the request's total work over the budget, fail before any model loads
        check_before_loading(task, items, params)
    except ModeldeckError:
        raise
    except Exception as e:  # noqa: BLE001 - a check tripped on input of a shape it did not expect
        from .errors import InvalidInput

        raise InvalidInput(
            f"{task_cls.spec.name} cannot use this input ({type(e).__name__}: {e}).",
            f"See 'modeldeck run {task_cls.spec.name} --help' for what it takes.",
        ) from e
    return load(task, model, device=device)(inputs, on_progress=on_progress, **params)


def pull(model: str, *, progress: bool = True):
    """Download ``model`` (hub id[@revision]) into the Hugging Face cache; returns its folder."""
    from .download import pull_one

    return pull_one(model, progress=progress)


def estimate(model: str, dtype: str | None = None, device: str | None = None):
    """Predict the memory ``model`` needs, from its safetensors headers, without loading it."""
    from .memory import estimate as estimate_memory

    return estimate_memory(model, dtype=dtype, device=device)


def load_ipython_extension(ipython) -> None:
    """``%load_ext modeldeck`` in Jupyter: the ``%%needs MODEL`` cell magic (see ``modeldeck.notebook``)."""
    from .notebook import load_ipython_extension as load

    load(ipython)
