"""Gradio widgets chosen from a task's spec: parameters and examples here, inputs in ``ui.inputs``,
outputs in ``modeldeck.outputs`` (one module per output kind).

Nothing here knows a task by name: each input kind, parameter type and output
kind maps to a widget. A task that lands later gets its tab from its spec alone.
Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import InvalidInput
from ..outputs import output_view  # noqa: F401 - the app builds each tab's outputs through ui.output_view
from ..outputs.text import text_value  # noqa: F401 - the chat tab shows a reply's text with it
from ..outputs.view import OutputView  # noqa: F401
from ..spec import Param, TaskSpec
from .inputs import (  # noqa: F401 - the app and the tests take the input widgets from here
    DropdownInput,
    NumberInput,
    RadioInput,
    TextInput,
    checked_payloads,
    elem_id,
    input_value,
    input_widget,
    label_for,
    short_repr,
    upload_names,
)

EXAMPLES_DIR = Path(__file__).parent / "examples"
# Bundled media used where an example needs a picture or a sound (see examples/PROVENANCE.md).
EXAMPLE_MEDIA = {"image": EXAMPLES_DIR / "cats.jpg", "audio": EXAMPLES_DIR / "jfk.flac"}
# Example names used by specs -> the bundled file that stands in for them.
EXAMPLE_ALIASES = {"cats.png": "cats.jpg", "astronaut.png": "astronaut.jpg", "jfk.wav": "jfk.flac"}
POINTS = "points"  # a parameter with this name is filled by clicking on the task's image
# A bool parameter whose default is None ("not set": the task decides) is a three-way choice.
UNSET, ON, OFF = "default", "on", "off"
TRI_STATE = (UNSET, ON, OFF)


def param_widget(spec: TaskSpec, param: Param) -> gr.Component:
    """The widget for one tuning parameter."""
    common = {"label": label_for(param.name), "info": param.help or None, "elem_id": elem_id(spec, "param", param.name)}
    if param.name == POINTS:
        common["info"] = (param.help + ". " if param.help else "") + "Click on the image to add points (x,y)."
    if param.type is bool:
        if param.default is None:  # None means "let the task decide": a checkbox could never send it
            return RadioInput(choices=list(TRI_STATE), value=tri_state(None), **common)
        return gr.Checkbox(value=bool(param.default), **common)
    if param.choices:
        default = param.default
        if param.many:
            default = list(default) if isinstance(default, (list, tuple)) else ([default] if default else [])
        choices = list(param.choices)
        if default is None and UNSET not in choices:  # "let the task decide" is a choice too: the API has a default
            choices, default = [UNSET, *choices], UNSET
        return DropdownInput(choices=choices, value=default, multiselect=param.many, **common)
    if param.many:
        default = param.default
        if isinstance(default, (list, tuple)):
            default = ", ".join(str(v) for v in default)
        common["info"] = (param.help + "; " if param.help else "") + "comma-separated"
        return TextInput(value=default or None, **common)
    if param.type in (int, float):
        bounds = {"minimum": param.min, "maximum": param.max}
        if param.default is None:
            # The model's own value: an empty text field (gr.Number shows an empty value as a misleading 0).
            common["info"] = number_hint(param)
            # value None: the API shows this parameter's default as None (the model's own), not as ""
            return TextInput(value=None, placeholder="model default", max_lines=1, **common)
        return NumberInput(value=param.default, precision=0 if param.type is int else None, **bounds, **common)
    return TextInput(value=None if param.default is None else str(param.default), **common)


def number_hint(param: Param) -> str:
    """The hint of a number left empty: what happens when it stays empty."""
    help = param.help or ""
    if "default" in help.lower():
        return help
    return (help + "; " if help else "") + "empty: the model's own setting"


def is_tri_state(param: Param) -> bool:
    """A bool parameter with no default: shown as default / on / off, not as a checkbox."""
    return param.type is bool and param.default is None


def tri_state(value: bool | None) -> str:
    """None / True / False -> the three-way choice's "default" / "on" / "off"."""
    return UNSET if value is None else (ON if value else OFF)


def split_many(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (the CLI's rule for list parameters)."""
    return [part.strip() for part in str(text).split(",") if part.strip()]


def param_value(param: Param, raw: Any) -> Any:
    """A widget's value as the task parameter, or None to keep the default."""
    if raw is None:
        return None
    if param.type is bool:
        if isinstance(raw, str):
            key = raw.strip().lower()
            if key in ("", UNSET, "none", "auto"):
                return None
            if key in (ON, "true", "yes", "1"):
                return True
            if key in (OFF, "false", "no", "0"):
                return False
            raise InvalidInput(f"{label_for(param.name)} must be one of {', '.join(TRI_STATE)}, not {short_repr(raw)}.")
        if not isinstance(raw, bool):  # a checkbox sends true or false; anything else is not a choice
            raise InvalidInput(f"{label_for(param.name)} must be true or false, not {short_repr(raw)}.")
        return raw
    if param.choices and not param.many and raw == UNSET and UNSET not in param.choices:
        return None  # the added "default" choice: the task's own
    if param.many:
        if not isinstance(raw, (list, tuple, str)):
            raise InvalidInput(f"{label_for(param.name)} must be a comma-separated list, not {short_repr(raw)}.")
        parts = [str(v).strip() for v in raw] if isinstance(raw, (list, tuple)) else split_many(raw)
        parts = [p for p in parts if p]
        return [_coerce(param, p) for p in parts] or None
    if isinstance(raw, str) and not raw.strip():
        return None
    if isinstance(raw, (list, tuple, dict)):
        raise InvalidInput(f"{label_for(param.name)} must be one value, not {short_repr(raw)}.")
    return _coerce(param, raw)


def _coerce(param: Param, value: Any) -> Any:
    kind = param.type
    if isinstance(value, bool) and kind in (int, float):
        raise InvalidInput(f"{label_for(param.name)} must be a number, not {value!r}.")
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(value)
    except (TypeError, ValueError, OverflowError):
        name = "a whole number" if kind is int else "a number"
        raise InvalidInput(f"{label_for(param.name)} must be {name}, not {short_repr(value)}.") from None
    if kind is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{label_for(param.name)} must be text, not {short_repr(value)}.")
        return value.strip()
    return value


def add_point(current: str | None, index: Any, many: bool) -> str:
    """Append a clicked (x, y) to a points parameter's text; anything but a click's pixel leaves it as it was."""
    current = current.strip() if isinstance(current, str) else ""
    if not isinstance(index, (list, tuple)) or len(index) < 2:
        return current
    try:
        x, y = (float(v) for v in index[:2])
    except (TypeError, ValueError):
        return current
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        return current
    x, y = int(round(x)), int(round(y))
    sep = ", " if many else "; "
    return f"{current}{sep}{x},{y}" if current else f"{x},{y}"


# -- examples --------------------------------------------------------------------------------


def example_media(kind: str, value: Any = None) -> str | None:
    """A bundled file for an image/audio example: the named one if bundled, else the default."""
    if isinstance(value, str) and value:
        name = Path(value).name
        for candidate in (Path(value), EXAMPLES_DIR / name, EXAMPLES_DIR / EXAMPLE_ALIASES.get(name, name)):
            if candidate.is_file():
                return str(candidate)
    default = EXAMPLE_MEDIA.get(kind)
    return str(default) if default and default.is_file() else None


def example_rows(spec: TaskSpec) -> list[list[Any]]:
    """Rows for gr.Examples (inputs then parameters), from the spec's examples.

    Image and audio inputs use the bundled media, so every task that takes
    them has an example to click even when its spec names none.
    """
    examples = list(spec.examples)
    if not examples and any(i.kind in EXAMPLE_MEDIA for i in spec.inputs):
        examples = [{}]
    rows = []
    for example in examples:
        row: list[Any] = []
        for item in spec.inputs:
            value = example.get(item.name)
            if item.kind in EXAMPLE_MEDIA:
                if value is None and item.optional:
                    row.append(None)
                    continue
                values = value if isinstance(value, (list, tuple)) else [value]
                media = [example_media(item.kind, v) for v in values]
                row.append([m for m in media if m] if item.many else media[0])
            elif item.many and isinstance(value, (list, tuple)):
                row.append("\n".join(str(v) for v in value))
            else:
                row.append("" if value is None else str(value))
        for param in spec.params:
            value = example.get(param.name, param.default)
            if param.many and not param.choices and isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            elif is_tri_state(param):
                value = tri_state(value)
            row.append(value)
        rows.append(row)
    return rows


def step_progress(progress: Callable, start: float = 0.5, end: float = 0.95) -> Callable[[int, int], None]:
    """A runner's ``on_progress`` callback (e.g. denoising steps) that moves the tab's gr.Progress bar."""

    def report(done: int, total: int) -> None:
        progress(start + (end - start) * done / max(total, 1), desc=f"Step {done}/{total}")

    return report

