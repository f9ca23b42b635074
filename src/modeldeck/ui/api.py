"""The functions a tab's events call, named after the spec, so gradio_client's ``view_api()`` reads like
``modeldeck run TASK --help``: ``predict(text, model="gpt2", max_new_tokens=50, ..., api_name="/text_generation")``
instead of ``param_1`` ... ``param_14``.

gradio names an endpoint's parameters after the called function's positional parameters (``inspect.signature``,
which honours ``__signature__``) and gives each the widget's initial value as its default; a widget with no value
gets the function's default (None here) and stays optional. ``progress``, a ``gr.Progress`` default, is filled in
by gradio and is not part of the API.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

RESERVED = {"api_name", "fn_index", "result_callbacks"}  # gradio_client's own keywords


def named(call: Callable[[list, Any], Any], names: Sequence[str], required: int, *, streams: bool, progress: Any,
          name: str) -> Callable:
    """A function taking one positional argument per name (the first ``required`` without a default) and, when
    ``progress`` is a ``gr.Progress``, gradio's progress tracker, that hands them to ``call(values, progress)`` (a generator's pieces passed on when
    ``streams``)."""
    clash = RESERVED.intersection(names)
    if clash or len(set(names)) != len(names):
        raise ValueError(f"API parameter names must be unique and not {sorted(RESERVED)}: {list(names)}")
    count = len(names)

    if streams:
        def endpoint(*args):
            yield from call(list(args[:count]), args[count] if len(args) > count else None)
    else:
        def endpoint(*args):
            return call(list(args[:count]), args[count] if len(args) > count else None)

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(n, kind, **({} if i < required else {"default": None})) for i, n in enumerate(names)]
    if progress is not None:
        parameters.append(inspect.Parameter("progress", kind, default=progress))
    endpoint.__signature__ = inspect.Signature(parameters)
    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def required_count(optional: Sequence[bool]) -> int:
    """How many leading parameters have no default: up to the last required one (Python's order rule)."""
    last = max((i for i, opt in enumerate(optional) if not opt), default=-1)
    return last + 1
