"""Gradio widgets for a task's inputs, and the values they hand over.

Each input kind maps to a widget; uploads and value widgets hand the handler what came (a file's path,
unopened; a value unconverted), so modeldeck's own checks say what is wrong, in the CLI's words.
Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import InvalidInput
from ..spec import Input, TaskSpec


def elem_id(spec: TaskSpec, *parts: str) -> str:
    """A stable DOM id for a task's widget (used by the browser tests)."""
    return "-".join([spec.name, *parts]).replace("_", "-")


def label_for(name: str) -> str:
    return name.replace("_", " ").capitalize()


def input_widget(spec: TaskSpec, item: Input) -> gr.Component:
    """The widget for one task input."""
    label = label_for(item.name) + (" (optional)" if item.optional else "")
    common = {"label": label, "info": item.help or None, "elem_id": elem_id(spec, "in", item.name)}
    if item.kind == "image":
        if item.many:
            return checked_uploads(FilesUpload(file_count="multiple", file_types=["image"], type="filepath",
                                               **_no_info(common)))
        return checked_uploads(ImageUpload(type="filepath", sources=["upload", "clipboard"], **_no_info(common)))
    if item.kind == "audio":
        if item.many:
            return checked_uploads(FilesUpload(file_count="multiple", file_types=["audio"], type="filepath",
                                               **_no_info(common)))
        return checked_uploads(AudioUpload(type="filepath", sources=["upload", "microphone"], **_no_info(common)))
    if item.many:
        common["info"] = (item.help + "; " if item.help else "") + "one per line"
        return TextInput(lines=4, max_lines=20, **common)
    return TextInput(lines=2, max_lines=20, **common)


class UploadPath(str):
    """An uploaded file's path on the server that remembers the file's name on the user's machine."""

    orig_name: str


def uploaded(data: Any) -> UploadPath | str | None:
    """The path of gradio's upload payload (FileData), left unread; a data: URL as it came."""
    if data is None:
        return None
    path = getattr(data, "path", None)
    if not path:
        url = getattr(data, "url", None)
        return url if isinstance(url, str) and url.startswith("data:") else None  # modeldeck decodes data: URLs
    found = UploadPath(path)
    found.orig_name = Path(getattr(data, "orig_name", None) or path).name
    return found


# Upload widgets whose preprocessing only hands over the file's path: gradio's own (PIL for gr.Image,
# the extension check of gr.File) fails on a renamed or empty file with a server traceback and
# "Could not preprocess input", before modeldeck's checks could say what is wrong (the CLI's words).
# ``is_template`` makes gradio draw them with the parent's frontend.


def checked_payloads(model: type, label: str) -> type:
    """gradio's payload model for an upload, answering a payload of the wrong shape (text or a number sent to
    the API for a file) with modeldeck's words instead of pydantic's validation report."""
    from pydantic import ValidationError

    def model_validate(cls, obj, *args, **kwargs):
        try:
            return model.model_validate.__func__(cls, obj, *args, **kwargs)
        except ValidationError:
            shown = repr(obj) if len(repr(obj)) <= 60 else repr(obj)[:60] + "..."
            raise gr.Error(f"{label} must be an uploaded file (as the API takes files: {{\"path\": ...}} or "
                           f"{{\"url\": ...}}), not {shown}.", print_exception=False) from None

    return type(model.__name__, (model,), {"model_validate": classmethod(model_validate), "__module__": model.__module__})


def checked_uploads(widget):
    """``widget`` with its payloads of the wrong shape refused in modeldeck's words. (Set on the instance, after
    gradio built it: gradio reads a widget's frontend settings from its class's ``__init__`` signature.)"""
    if getattr(widget, "data_model", None) is not None:
        widget.data_model = checked_payloads(widget.data_model, str(widget.label or "The file").split(":")[0])
    return widget


class ImageUpload(gr.Image):
    """gr.Image that gives the handler the uploaded file's path, unopened."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return uploaded(payload)


class AudioUpload(gr.Audio):
    """gr.Audio that gives the handler the uploaded file's path, never converted."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return uploaded(payload)


class FilesUpload(gr.File):
    """gr.File (several files) that gives the handler the uploaded files' paths, unchecked."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        if payload is None:
            return None
        files = payload.root if hasattr(payload, "root") else payload
        files = files if isinstance(files, (list, tuple)) else [files]
        paths = [uploaded(f) for f in files]
        return [p for p in paths if p] or None


# Value widgets that hand the API's value over as it came: gradio's own preprocessing refuses text in a number
# field ("Could not preprocess input component", with a server traceback) or a value not among a radio's
# choices in its own words; modeldeck's parameter checks then say what is wrong, naming the parameter.


class NumberInput(gr.Number):
    """gr.Number whose value reaches the handler unconverted (modeldeck checks it)."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class RadioInput(gr.Radio):
    """gr.Radio whose value reaches the handler unchecked (modeldeck checks it)."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class DropdownInput(gr.Dropdown):
    """gr.Dropdown whose value reaches the handler unchecked (modeldeck checks it)."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


class TextInput(gr.Textbox):
    """gr.Textbox whose value reaches the handler as it came (a number or a list sent to the API for text is
    refused by modeldeck's checks, not turned into its printed form)."""

    is_template = True

    def preprocess(self, payload: Any) -> Any:
        return payload


def upload_names(text: str, values: Any) -> str:
    """``text`` with the server paths of uploads in ``values`` replaced by the names the user gave them."""
    try:
        from ..media.image import describe  # how image messages name a path (shortened when long)
    except ImportError:
        describe = repr
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, UploadPath):
            text = text.replace(describe(str(value)), repr(value.orig_name)).replace(str(value), value.orig_name)
    return text


def _no_info(common: dict) -> dict:
    """Image and audio widgets take no ``info``: fold it into the label."""
    out = dict(common)
    info = out.pop("info")
    if info:
        out["label"] = f"{out['label']}: {info}"
    return out


def input_value(item: Input, raw: Any) -> Any:
    """A widget's value as the task input, or None when nothing was given."""
    if raw is None:
        return None
    if item.kind in ("image", "audio"):
        if item.many:
            paths = [_file_path(f) for f in (raw if isinstance(raw, (list, tuple)) else [raw])]
            return [p for p in paths if p] or None
        return _file_path(raw)
    if item.many:
        if isinstance(raw, (list, tuple)):
            if not all(isinstance(line, str) for line in raw):
                raise InvalidInput(f"{label_for(item.name)} must be texts, one per line, not {short_repr(raw)}.")
            lines = [line for line in raw if line.strip()]
        elif isinstance(raw, str):
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
        else:
            raise InvalidInput(f"{label_for(item.name)} must be text (one per line), not {short_repr(raw)}.")
        return None if item.optional and not lines else lines
    if not isinstance(raw, str):
        raise InvalidInput(f"{label_for(item.name)} must be text, not {short_repr(raw)}.")
    text = raw
    if not text.strip():
        # an empty optional input is one not given; a required one goes on to the task's clear error
        return None if item.optional else text
    turns = conversation_turns(text)
    return text if turns is None else turns


def short_repr(value: Any) -> str:
    """A value as messages quote it, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def conversation_turns(text: str) -> list[dict] | None:
    """Pasted JSON ``[{"role": ..., "content": ...}, ...]`` as that list of turns, else None.

    Inputs documented to take a conversation get it as turns; any other text stays text.
    """
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if value and isinstance(value, list) and all(isinstance(t, dict) and {"role", "content"} <= set(t) for t in value):
        return value
    return None


def _file_path(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):  # FileData-like
        value = value.get("path") or value.get("name")
    if hasattr(value, "name") and not isinstance(value, str):  # tempfile wrappers
        value = value.name
    if isinstance(value, str):
        return value or None  # an UploadPath stays one: messages name the file as the user knows it
    return str(value) if value else None

