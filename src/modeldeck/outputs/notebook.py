"""Results that show themselves in Jupyter: pictures, players and tables instead of raw dicts.

``wrap(output_kind, result)`` returns the same value (equal to the plain
result, JSON-ready through ``to_jsonable``, picklable, with the plain
list/dict ``repr``) that also has ``_repr_html_`` (and ``_repr_png_`` for
pictures), which Jupyter calls and plain Python never does. Plain lists and
dicts become ``ShownList`` / ``ShownDict``; results that are already a
list or dict subclass (``Transcript``, ``DepthResult``) keep their class
through a subclass made for them, so ``isinstance`` and their attributes
still hold. Anything else (text, a PIL image, which shows itself) is
returned as it is. The HTML and pictures come from the output kinds'
modules. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

from .. import outputs
from ..jsonable import png_bytes
from .common import esc

# Mixed-in classes made for result classes that are already list/dict subclasses: base -> subclass.
_SUBCLASSES: dict[type, type] = {}


class Shown:
    """Mixin: Jupyter display for a result of one output kind (``_display_kind``)."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        try:
            return outputs.to_html(self._display_kind, self, getattr(self, "_display_context", {}))
        except Exception:  # noqa: BLE001 - a display that cannot draw falls back to the plain repr
            return None

    def _repr_png_(self) -> bytes | None:
        try:
            picture = outputs.to_picture(self._display_kind, self, getattr(self, "_display_context", {}))
        except Exception:  # noqa: BLE001 - as above
            return None
        return None if picture is None else png_bytes(picture)


class ShownList(Shown, list):
    """A plain list result, with rich display in notebooks."""


class ShownDict(Shown, dict):
    """A plain dict result, with rich display in notebooks."""


def _restore(base: type, items: Any, state: dict) -> Any:
    """Unpickle a result of a mixed-in subclass: the original class, wrapped again."""
    obj = base.__new__(base)
    if isinstance(obj, dict):
        dict.update(obj, items)
    else:
        list.extend(obj, items)
    obj.__dict__.update(state)
    return _mix(obj)


def _subclass(base: type) -> type:
    """``base`` with display mixed in (made once per class); pickles as ``base``."""
    if base not in _SUBCLASSES:

        def __reduce_ex__(self, protocol):  # noqa: N807 - the made class is not importable by name
            items = dict(self) if isinstance(self, dict) else list(self)
            return _restore, (base, items, dict(self.__dict__))

        _SUBCLASSES[base] = type(
            base.__name__, (Shown, base), {"__module__": base.__module__, "__reduce_ex__": __reduce_ex__}
        )
    return _SUBCLASSES[base]


def _mix(obj: Any) -> Any:
    obj.__class__ = _subclass(type(obj))
    return obj


def wrap(output_kind: str, result: Any, inputs: dict[str, Any] | None = None) -> Any:
    """``result`` with Jupyter display for ``output_kind``; the same value, never an error.

    ``inputs`` (optional, the call's bound inputs) lets boxes and masks be drawn on the input
    picture and scores be named by their candidates.
    """
    try:
        if isinstance(result, Shown):  # already shown: the caller may add inputs
            if inputs:
                result._display_context = outputs.context(output_kind, inputs)
            return result
        if type(result) is list:
            shown: Any = ShownList(result)
        elif type(result) is dict:
            shown = ShownDict(result)
        elif isinstance(result, (list, dict)) and hasattr(result, "__dict__"):
            shown = _mix(result)  # keeps its class (isinstance) and its attributes
        else:
            return result  # text, numbers, PIL images (which show themselves), arrays
        shown._display_kind = output_kind
        shown._display_context = outputs.context(output_kind, inputs or {})
        return shown
    except Exception:  # noqa: BLE001 - display is a nicety: the plain result is always fine
        return result


class TaskTable(list):
    """``modeldeck.tasks()``: a list of TaskSpec that shows as a table in Jupyter."""

    def _repr_html_(self) -> str:
        rows = [[esc(s.name), esc(s.modality), f"<code>{esc(s.default_model)}</code>", esc(s.signature), esc(s.summary)]
                for s in self]
        head = "".join(f"<th>{c}</th>" for c in ("task", "modality", "default model", "inputs -> output", "what it does"))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return f'<table class="modeldeck"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def tasks_table(specs: list | None = None) -> TaskTable:
    """Every task's spec (or ``specs``) as a TaskTable."""
    if specs is None:
        from ..pipelines import specs as all_specs

        specs = all_specs()
    return TaskTable(specs)
