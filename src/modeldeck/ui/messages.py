"""What the UI's tabs share: errors and notices shown in the page, the model picker's choices."""

from __future__ import annotations

import html
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

from ..errors import ModeldeckError
from ..spec import TaskSpec
from . import components as ui


def model_choices(spec: TaskSpec, cached: dict[str, list[str]] | list[str]) -> list[str]:
    """The default model first (and its offline stand-in), then the models on this machine made for the task
    (``cached``: model id -> the tasks it serves; a plain list is taken as fitting every task)."""
    first = [spec.default_model] + ([spec.offline_default] if getattr(spec, "offline_default", None) else [])
    fitting = [m for m in cached if not isinstance(cached, dict) or spec.name in cached[m]]
    return [*first, *[m for m in fitting if m not in first]]


def model_picker(spec: TaskSpec, cached: dict[str, list[str]] | list[str], allow_folders: bool = False) -> gr.Dropdown:
    """The tab's model box: the default, cached models, or any hub id typed in (and a folder on this machine
    only when the operator allowed folders at launch)."""
    return ui.DropdownInput(
        choices=model_choices(spec, cached),
        value=spec.default_model,
        allow_custom_value=True,
        label="Model",
        info="The default, a cached model, or any hub id" + (" or a folder on this machine" if allow_folders else ""),
        elem_id=ui.elem_id(spec, "model"),
    )


def chosen_model(value: Any, spec: TaskSpec, allow_folders: bool = False) -> str | None:
    """The model box's value as the model to load (None: the task's default, so an offline machine may use its
    packaged stand-in). A visitor names hub ids only: the page never opens a folder on the serving machine
    unless whoever launched it allowed that (``modeldeck ui --allow-local-models``)."""
    from ..errors import InvalidModelId
    from ..refs import _is_dir, shorten, is_hub_id

    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidModelId(f"The model must be a model id (text), not {type(value).__name__}.",
                             "Pick one from the list, or type a hub id like 'org/name'.")
    text = value.strip()
    if not text or text == spec.default_model:
        return None
    if allow_folders:
        return text
    from pathlib import Path

    if not is_hub_id(text) or _is_dir(Path(text).expanduser()):
        raise InvalidModelId(
            f"{shorten(text)!r} is not a hub id, and this page does not open folders on the machine serving it.",
            "Pick a model from the list, or type a hub id like 'org/name'. (Whoever runs the page can allow "
            "folders: modeldeck ui --allow-local-models.)",
        )
    return text


def user_error(error: BaseException, values: Any = None) -> gr.Error:
    """A readable error for the page: the message and what to do, never a traceback.

    Uploads among ``values`` are named as the user named them, not by their path on the server.
    """
    if isinstance(error, ModeldeckError):
        text = str(error)
    elif isinstance(error, (FileNotFoundError, ValueError, TypeError, OSError, ImportError, MemoryError)):
        text = f"{error}" or type(error).__name__
    else:
        text = f"{type(error).__name__}: {error}"
    if values is not None:
        text = ui.upload_names(text, values)
    return gr.Error(html.escape(text, quote=False), duration=None, print_exception=False)


def log_failure(error: BaseException) -> None:
    """A traceback in the server's log for failures that are not the user's input (or always, with
    MODELDECK_DEBUG=1): a modeldeck error is already the whole story, and the page shows it."""
    if os.environ.get("MODELDECK_DEBUG") == "1" or not isinstance(error, ModeldeckError):
        traceback.print_exception(error, file=sys.stderr)


@contextmanager
def collect_notices(found: list[str]) -> Iterator[None]:
    """Within the block (this context only), the task's notices go into ``found``."""
    from .. import notices

    with notices.listening(on_notice=found.append):
        yield


def show_notices(found: list[str]) -> None:
    """Each notice once, as a message in the page."""
    for message in dict.fromkeys(found):
        gr.Info(html.escape(message, quote=False), duration=10)
