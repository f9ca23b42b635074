"""One Run of a tab, the same for every tab (the task tabs and the chat window): the options taken from their
widgets, the model loaded, the result streamed or whole with the task's notices shown, and every failure
turned into one line in the page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

from ..spec import TaskSpec
from . import components as ui
from .messages import collect_notices, log_failure, show_notices, user_error


def chosen_params(spec: TaskSpec, raw: Iterable[Any]) -> dict[str, Any]:
    """The options' widget values (in the spec's order) as the task's parameters; those left empty keep the
    task's default."""
    chosen = {}
    for param, value in zip(spec.params, raw):
        value = ui.param_value(param, value)
        if value is not None:
            chosen[param.name] = value
    return chosen


def results(spec: TaskSpec, load: Callable[[], Callable], model: str | None, inputs: dict[str, Any],
            params: dict[str, Any], found: list[str], *, streaming: bool,
            progress: Callable | None = None) -> Iterator[tuple[Any, bool]]:
    """One call of ``spec``'s task (``load()`` gives modeldeck.load): with ``streaming`` and a runner that
    streams, (the text so far, False) after each piece; last, (the whole result, True), once the notices told
    (into ``found``) are shown in the page. ``progress`` (gradio's) hears the loading and the task's steps."""
    tell = progress if progress is not None else (lambda *args, **kwargs: None)
    tell(0.05, desc=f"Loading {model or spec.default_model}")
    with collect_notices(found):
        runner = load()(spec.name, model)
    if streaming and runner.streams:
        result, pieces = "", runner.stream(inputs, **params)
        while True:
            with collect_notices(found):  # notices are told inside each step of the stream
                piece = next(pieces, None)
            if piece is None:
                break
            result += piece
            yield result, False
    else:  # the whole result in one go
        tell(0.5, desc=f"Running {spec.name}")
        steps = {"on_progress": ui.step_progress(progress)} if progress is not None else {}
        with collect_notices(found):
            result = runner(inputs, **steps, **params)
    show_notices(found)
    tell(0.95, desc="Showing the result")
    yield result, True


@contextmanager
def page_errors(values: Any = None) -> Iterator[None]:
    """Every failure in the block as one line in the page (uploads among ``values`` named as the person named
    them); a bug's traceback goes to the server's log."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes a message in the page
        log_failure(error)  # for the server's log; the page gets one line
        raise user_error(error, values) from None
