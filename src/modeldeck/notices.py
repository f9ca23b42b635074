"""Per-call side channels: notices (input truncated, chunked...) and progress.

Both go to whoever listens in the current context (a ContextVar, so each
call, thread and request has its own listener; nothing process-wide changes
per call). The engine runs a request's model step in the caller's context,
so a notice raised on the device worker still reaches that caller. With no
listener, a notice is a ``Notice`` warning and progress is dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import Notice

NoticeListener = Callable[[str], None]
ProgressListener = Callable[[int, int], None]  # (done, total)

_notice_listener: ContextVar[NoticeListener | None] = ContextVar("modeldeck_notice_listener", default=None)
_progress_listener: ContextVar[ProgressListener | None] = ContextVar("modeldeck_progress_listener", default=None)
_item: ContextVar[int | None] = ContextVar("modeldeck_notice_item", default=None)


def notice(message: str) -> None:
    """Tell the user about something handled for them (the CLI prints 'Note: ...')."""
    listener = _notice_listener.get()
    if listener is not None:
        listener(message)
    else:
        warnings.warn(message, Notice, stacklevel=3)


def progress(done: int, total: int) -> None:
    """Report ``done`` of ``total`` steps of the current call (e.g. denoising steps)."""
    listener = _progress_listener.get()
    if listener is not None:
        listener(done, total)


@contextmanager
def listening(on_notice: NoticeListener | None = None, on_progress: ProgressListener | None = None) -> Iterator[None]:
    """Within this block (this context only), notices and progress go to these callbacks."""
    tokens = []
    if on_notice is not None:
        tokens.append((_notice_listener, _notice_listener.set(on_notice)))
    if on_progress is not None:
        tokens.append((_progress_listener, _progress_listener.set(on_progress)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_item() -> int | None:
    """The index, in the forward pass running now, of the item being worked on (None: the whole pass)."""
    return _item.get()


@contextmanager
def for_item(index: int) -> Iterator[None]:
    """Within this block, notices are about item ``index`` of the batch: the engine tells only its caller."""
    token = _item.set(index)
    try:
        yield
    finally:
        _item.reset(token)


@contextmanager
def collected() -> Iterator[list[str]]:
    """Collect this context's notices into a list instead of warning (the UI shows them beside the result)."""
    found: list[str] = []
    with listening(found.append):
        yield found
