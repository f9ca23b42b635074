"""Every error modeldeck shows to a person, in one place.

Each subclasses the built-in it is a kind of, so callers can catch
``FileNotFoundError`` or ``ValueError`` without knowing modeldeck, and each
carries a ``hint``: what to do about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from contextlib import contextmanager


class ModeldeckError(Exception):
    """Base class: a message for people, a hint saying what to do, and the input or parameter it is about
    (``param``, as data: a server names the field at fault without reading the message)."""

    def __init__(self, message: str, hint: str | None = None, param: str | None = None):
        message, hint = clip(message), clip(hint) if hint else hint
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


MAX_MESSAGE = 1000  # characters: an error quoting a 100 kB value is still one readable line


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` with its middle cut out when it is over ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 4) :]
    return f"{head} [... {len(text) - len(head) - len(tail):,} characters cut ...] {tail}"


class UnknownTask(ModeldeckError, LookupError):
    """A task name that is not in the registry."""


class UnknownParameter(ModeldeckError, TypeError):
    """A parameter the task does not take."""


class InvalidInput(ModeldeckError, ValueError):
    """Input the task cannot work on: empty, wrong type, out of range."""


class InvalidModelId(ModeldeckError, ValueError):
    """A model reference that is neither a hub id nor a folder."""


class ModelNotAvailable(ModeldeckError, FileNotFoundError):
    """The model is not cached, not packaged, and cannot be downloaded now."""


class RevisionNotFound(ModelNotAvailable):
    """The model is known but not at the asked revision."""


class BrokenModel(ModelNotAvailable):
    """A model on this machine has broken files (truncated, unparsable, missing): named, with the repair."""


class HubUnreachable(ModeldeckError, ConnectionError):
    """The Hugging Face Hub cannot be reached (offline, or no network)."""


class MissingDependency(ModeldeckError, ImportError):
    """An optional package a task needs is not installed."""


class UnsafeModel(ModeldeckError, PermissionError):
    """Loading would run remote code or unpickle, and the user did not allow it."""


class ModelTooLarge(ModeldeckError, MemoryError):
    """The model cannot fit in the memory budget, even alone."""


class ModelBusy(ModeldeckError, TimeoutError):
    """A model needs room that models in use hold, and they did not finish in time."""


class TaskFailed(ModeldeckError, RuntimeError):
    """A library under a task failed on this input: named with the task and model, the original chained."""


class WrongModelType(InvalidInput):
    """The model's architecture is not one the task runs."""


@contextmanager
def about(param: str):
    """Errors raised in the block are about ``param`` (unless they already name another)."""
    try:
        yield
    except ModeldeckError as error:
        if error.param is None:
            error.param = param
        raise


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The few choices nearest to ``word``, best first."""
    choices = list(choices)
    found = difflib.get_close_matches(word, choices, n=n, cutoff=0.5)
    if not found:
        found = [c for c in choices if word.lower() in c.lower() or c.lower() in word.lower()][:n]
    return found


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A 'Did you mean ...?' sentence, or '' when nothing is close."""
    found = closest(word, choices)
    return f"Did you mean {', '.join(repr(f) for f in found)}?" if found else ""


def require(module: str, package: str | None = None, extra: str | None = None):
    """Import ``module`` or raise MissingDependency saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        pip_name = package or module
        how = f"pip install 'modeldeck[{extra}]'" if extra else f"pip install {pip_name}"
        raise MissingDependency(
            f"This needs the package {pip_name!r}, which is not installed ({e}).",
            f"Install it with: {how}",
        ) from e


class Notice(UserWarning):
    """Not an error: something modeldeck handled for the user that they should know about
    (input truncated or chunked to fit a model's window). The CLI prints these as 'Note: ...'."""
