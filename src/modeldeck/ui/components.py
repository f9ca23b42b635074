"""Gradio widgets chosen from a task's spec: inputs, parameters, outputs and examples.

Nothing here knows a task by name: each input kind, parameter type and output
kind maps to a widget, and each output kind has a converter from the task's
plain result (the shapes documented in ``modeldeck.spec.OutputKind``) to the
widget's value. A task that lands later gets its tab from its spec alone.
Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import InvalidInput
from ..jsonable import to_jsonable
from ..render import text_of
from ..spec import Input, Param, TaskSpec

EXAMPLES_DIR = Path(__file__).parent / "examples"
# Bundled media used where an example needs a picture or a sound (see examples/PROVENANCE.md).
EXAMPLE_MEDIA = {"image": EXAMPLES_DIR / "cats.jpg", "audio": EXAMPLES_DIR / "jfk.flac"}
# Example names used by specs -> the bundled file that stands in for them.
EXAMPLE_ALIASES = {"cats.png": "cats.jpg", "astronaut.png": "astronaut.jpg", "jfk.wav": "jfk.flac"}
POINTS = "points"  # a parameter with this name is filled by clicking on the task's image
# A bool parameter whose default is None ("not set": the task decides) is a three-way choice.
UNSET, ON, OFF = "default", "on", "off"
TRI_STATE = (UNSET, ON, OFF)


def elem_id(spec: TaskSpec, *parts: str) -> str:
    """A stable DOM id for a task's widget (used by the browser tests)."""
    return "-".join([spec.name, *parts]).replace("_", "-")


def label_for(name: str) -> str:
    return name.replace("_", " ").capitalize()


# -- inputs and parameters -------------------------------------------------------------------


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
                raise InvalidInput(f"{label_for(item.name)} must be texts, one per line, not {_short(raw)}.")
            lines = [line for line in raw if line.strip()]
        elif isinstance(raw, str):
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
        else:
            raise InvalidInput(f"{label_for(item.name)} must be text (one per line), not {_short(raw)}.")
        return None if item.optional and not lines else lines
    if not isinstance(raw, str):
        raise InvalidInput(f"{label_for(item.name)} must be text, not {_short(raw)}.")
    text = raw
    if not text.strip():
        # an empty optional input is one not given; a required one goes on to the task's clear error
        return None if item.optional else text
    turns = conversation_turns(text)
    return text if turns is None else turns


def _short(value: Any) -> str:
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
            raise InvalidInput(f"{label_for(param.name)} must be one of {', '.join(TRI_STATE)}, not {_short(raw)}.")
        if not isinstance(raw, bool):  # a checkbox sends true or false; anything else is not a choice
            raise InvalidInput(f"{label_for(param.name)} must be true or false, not {_short(raw)}.")
        return raw
    if param.choices and not param.many and raw == UNSET and UNSET not in param.choices:
        return None  # the added "default" choice: the task's own
    if param.many:
        if not isinstance(raw, (list, tuple, str)):
            raise InvalidInput(f"{label_for(param.name)} must be a comma-separated list, not {_short(raw)}.")
        parts = [str(v).strip() for v in raw] if isinstance(raw, (list, tuple)) else split_many(raw)
        parts = [p for p in parts if p]
        return [_coerce(param, p) for p in parts] or None
    if isinstance(raw, str) and not raw.strip():
        return None
    if isinstance(raw, (list, tuple, dict)):
        raise InvalidInput(f"{label_for(param.name)} must be one value, not {_short(raw)}.")
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
        raise InvalidInput(f"{label_for(param.name)} must be {name}, not {_short(value)}.") from None
    if kind is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{label_for(param.name)} must be text, not {_short(value)}.")
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


# -- outputs ---------------------------------------------------------------------------------


@dataclass
class OutputView:
    """The widgets that show one output kind, and how a result fills them."""

    kind: str
    components: list[gr.Component]
    fill: Callable[[Any, dict[str, Any]], list[Any]]


def output_view(spec: TaskSpec) -> OutputView:
    """The output widgets for a task, by its output kind (JSON for kinds not known here)."""
    kind = spec.output
    make = OUTPUTS.get(kind, _json_view)
    return make(spec)


def _id(spec: TaskSpec, name: str) -> str:
    return elem_id(spec, "out", name)


def _table(columns: list[str], rows: list[list[Any]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _labels_view(spec: TaskSpec) -> OutputView:
    label = gr.Label(label="Labels", num_top_classes=10, elem_id=_id(spec, "labels"))
    return OutputView("labels", [label], lambda result, inputs: [labels_value(result, inputs)])


def labels_value(result: Any, inputs: dict[str, Any] | None = None) -> dict[str, float]:
    """[{"label", "score"}] (or a batch of them) -> {label: score} for gr.Label.

    Items named by another key ({"text", "score"}, {"image", "score"}, {"answer", "score"}) work too.
    Items that would show the same name (two uploads both called image.jpg) get their
    position among the inputs appended, so none hides another.
    """
    if isinstance(result, dict) and "score" in result:
        result = [result]
    if result and isinstance(result[0], list):
        return {f"#{n + 1} {item_name(r)}": float(r["score"]) for n, group in enumerate(result) for r in group}
    names = unique_names(result, inputs or {})
    return {name: float(r["score"]) for name, r in zip(names, result)}


NAME_KEYS = ("label", "text", "answer", "image", "token_str")


def item_name(item: dict) -> str:
    key = _name_key(item)
    return "?" if key is None else _shown(item[key])


def _name_key(item: dict) -> str | None:
    for key in NAME_KEYS:
        if item.get(key) is not None:
            return key
    return next((k for k in item if k != "score"), None)


def unique_names(items: list[dict], inputs: dict[str, Any]) -> list[str]:
    """Each item's shown name; names shown more than once get " (N)", N its 1-based input position."""
    names = [item_name(r) for r in items]
    repeated = {name for name, count in Counter(names).items() if count > 1}
    if not repeated:
        return names
    given = [str(v) for v in next((v for v in inputs.values() if isinstance(v, list)), [])]
    taken: set[int] = set()
    out = []
    for item, name in zip(items, names):
        if name in repeated:
            key = _name_key(item)
            value = item.get(key) if key else None
            if isinstance(value, int) and not isinstance(value, bool):
                position = value  # already a (0-based) position
            else:
                position = next((i for i, v in enumerate(given) if v == str(value) and i not in taken), None)
                if position is None:
                    position = next(i for i in range(len(given) + len(items)) if i not in taken)
            taken.add(position)
            name = f"{name} ({position + 1})"
        out.append(name)
    return out


def _scores_view(spec: TaskSpec) -> OutputView:
    table = gr.Dataframe(label="Scores", interactive=False, wrap=True, elem_id=_id(spec, "scores"))
    return OutputView("scores", [table], lambda result, inputs: [scores_table(result, inputs)])


def _shown(value: Any) -> str:
    text = str(value)
    return Path(text).name if len(text) < 4096 and Path(text).is_file() else text


def scores_table(result: Any, inputs: dict[str, Any]):
    """Scores, best first: a float per candidate, or dicts with a "score"."""
    if result and isinstance(result[0], dict):
        columns = [k for k in result[0] if k != "score"] + ["score"]
        rows = [[_shown(r.get(c)) if c != "score" else round(float(r["score"]), 4) for c in columns] for r in result]
        rows.sort(key=lambda row: -row[-1])
        return _table(columns, rows)
    candidates = next((v for v in inputs.values() if isinstance(v, list)), None) or [
        f"#{n + 1}" for n in range(len(result))
    ]
    ranked = sorted(zip(candidates, result), key=lambda pair: -float(pair[1]))
    return _table(["candidate", "score"], [[_shown(c), round(float(s), 4)] for c, s in ranked])


def _vectors_view(spec: TaskSpec) -> OutputView:
    table = gr.Dataframe(label="Vectors", interactive=False, wrap=True, elem_id=_id(spec, "vectors"))
    full = gr.JSON(label="Full vectors", elem_id=_id(spec, "json"))

    def fill(result, inputs):
        texts = next((v for v in inputs.values() if isinstance(v, list)), None) or list(inputs.values())
        vectors = to_jsonable(result)
        if vectors and not isinstance(vectors[0], list):
            vectors = [vectors]
        rows = []
        for text, vector in zip([*texts, *[""] * len(vectors)], vectors):
            norm = math.sqrt(sum(float(x) * float(x) for x in vector))
            head = ", ".join(f"{float(x):+.4f}" for x in vector[:6])
            rows.append([_shown(text), len(vector), round(norm, 4), f"[{head}, ...]"])
        return [_table(["text", "dims", "norm", "first values"], rows), vectors]

    return OutputView("vectors", [table, full], fill)


def _fill_mask_view(spec: TaskSpec) -> OutputView:
    label = gr.Label(label="Candidates", num_top_classes=10, elem_id=_id(spec, "labels"))
    table = gr.Dataframe(label="Filled texts", interactive=False, wrap=True, elem_id=_id(spec, "table"))

    def fill(result, inputs):
        groups = result if result and isinstance(result[0], list) else [result]
        several = len(groups) > 1
        scores, rows = {}, []
        for n, group in enumerate(groups):
            for r in group:
                key = f"mask {n + 1}: {r['token_str']}" if several else str(r["token_str"])
                scores[key] = float(r["score"])
                rows.append([n + 1, r["token_str"], round(float(r["score"]), 4), r["sequence"]])
        return [scores, _table(["mask", "token", "score", "sequence"], rows)]

    return OutputView("fill-mask", [label, table], fill)


def text_value(result: Any) -> str:
    """The text of a text result (see render.text_of); anything else as JSON."""
    text = text_of(result)
    return text if text is not None else json.dumps(to_jsonable(result), indent=2, ensure_ascii=False)


def _text_view(spec: TaskSpec) -> OutputView:
    box = gr.Textbox(label="Result", lines=6, max_lines=40, buttons=["copy"], elem_id=_id(spec, "text"))
    return OutputView("text", [box], lambda result, inputs: [text_value(result)])


def _answer_view(spec: TaskSpec) -> OutputView:
    box = gr.Textbox(label="Answer", lines=2, buttons=["copy"], elem_id=_id(spec, "text"))
    scores = gr.Label(label="Answers and scores", num_top_classes=5, elem_id=_id(spec, "labels"))

    def fill(result, inputs):
        answers = result if isinstance(result, list) else [result]
        answers = [a if isinstance(a, dict) else {"answer": str(a)} for a in answers]
        best = answers[0] if answers else {}
        text = str(best.get("answer", "")) or "(no answer)"
        if best.get("start") is not None and best.get("end") is not None:
            text += f"\n(characters {best['start']}-{best['end']} of the context)"
        label = {str(a.get("answer", "")) or "(no answer)": float(a["score"]) for a in answers if a.get("score") is not None}
        return [text, label or None]

    return OutputView("answer", [box, scores], fill)


def audio_value(result: Any) -> tuple[int, Any] | None:
    """{"audio": array, "sampling_rate": int} -> (rate, int16 samples) for a playable gr.Audio."""
    import numpy as np

    if isinstance(result, (list, tuple)) and len(result) == 2 and isinstance(result[0], int):
        rate, samples = result
    else:
        rate = result.get("sampling_rate") or result.get("sample_rate")
        samples = result.get("audio", result.get("array"))
    samples = np.asarray(samples)
    if samples.ndim == 2 and samples.shape[0] < samples.shape[1]:
        samples = samples.T  # (channels, n) -> (n, channels)
    if samples.dtype.kind == "f":
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    return int(rate), samples


def _audio_view(spec: TaskSpec) -> OutputView:
    player = gr.Audio(label="Audio", type="numpy", interactive=False, elem_id=_id(spec, "audio"))
    return OutputView("audio", [player], lambda result, inputs: [audio_value(result)])


def _transcript_view(spec: TaskSpec) -> OutputView:
    box = gr.Textbox(label="Transcript", lines=6, max_lines=40, buttons=["copy"], elem_id=_id(spec, "text"))
    table = gr.Dataframe(label="Segments", interactive=False, wrap=True, elem_id=_id(spec, "table"))

    def fill(result, inputs):
        if isinstance(result, str):
            return [result, None]
        rows = []
        for chunk in result.get("chunks") or []:
            start, end = (list(chunk.get("timestamp") or []) + [None, None])[:2]
            rows.append([_seconds(start), _seconds(end), str(chunk.get("text", "")).strip()])
        return [transcript_text(result), _table(["start (s)", "end (s)", "text"], rows) if rows else None]

    return OutputView("transcript", [box, table], fill)


SUBTITLE_FORMATS = ("srt", "vtt")


def transcript_text(result: Any) -> str:
    """The transcript's text, or its subtitles when a subtitle format was asked for (the ``format`` param)."""
    fmt = getattr(result, "format", None)
    if fmt in SUBTITLE_FORMATS and callable(getattr(result, "to", None)):
        return result.to(fmt).rstrip("\n")
    return str(result.get("text", "")).strip()


def _seconds(value: Any) -> Any:
    return None if value is None else round(float(value), 2)


def to_pil(image: Any):
    """A PIL image from a PIL image, an array, a path or base64 PNG."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (str, Path)):
        text = str(image)
        if len(text) < 4096 and Path(text).is_file():
            return Image.open(text)
        import base64
        import io

        return Image.open(io.BytesIO(base64.b64decode(text)))
    import numpy as np

    array = np.asarray(image)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        array = ((array - low) / (high - low or 1.0) * 255).astype(np.uint8)
    return Image.fromarray(array.astype(np.uint8))


def step_progress(progress: Callable, start: float = 0.5, end: float = 0.95) -> Callable[[int, int], None]:
    """A runner's ``on_progress`` callback (e.g. denoising steps) that moves the tab's gr.Progress bar."""

    def report(done: int, total: int) -> None:
        progress(start + (end - start) * done / max(total, 1), desc=f"Step {done}/{total}")

    return report


def images_of(result: Any) -> list:
    """The pictures in an "image" result: one, a list, or a dict holding them."""
    if isinstance(result, dict):
        for key in ("images", "image", "depth"):
            if key in result:
                return images_of(result[key])
        return []
    if isinstance(result, (list, tuple)):
        return [to_pil(r) for r in result]
    return [to_pil(result)]


def _image_view(spec: TaskSpec) -> OutputView:
    # One gallery for one picture or several: its value is the pictures themselves, so an API client gets files
    # it can download (a component switched on and off by gr.update would hand it update dicts instead).
    gallery = gr.Gallery(label="Images", columns=2, format="png", elem_id=_id(spec, "gallery"))
    return OutputView("image", [gallery], lambda result, inputs: [images_of(result)])


def _depth_view(spec: TaskSpec) -> OutputView:
    picture = gr.Image(label="Depth map", type="pil", interactive=False, format="png", elem_id=_id(spec, "image"))

    def fill(result, inputs):
        if isinstance(result, dict):
            depth = result.get("depth")
            if depth is None:
                depth = result.get("predicted_depth")
            return [to_pil(depth).convert("L") if depth is not None else None]
        return [to_pil(result).convert("L")]

    return OutputView("depth", [picture], fill)


def base_image(inputs: dict[str, Any], spec: TaskSpec):
    """The task's input picture (the first image input), as RGB."""
    for item in spec.inputs:
        if item.kind == "image" and inputs.get(item.name) is not None:
            value = inputs[item.name]
            return to_pil(value[0] if isinstance(value, list) else value).convert("RGB")
    return None


def box_of(box: Any) -> tuple[int, int, int, int]:
    if isinstance(box, dict):
        return tuple(int(round(float(box[k]))) for k in ("xmin", "ymin", "xmax", "ymax"))
    return tuple(int(round(float(v))) for v in box[:4])


def annotated_boxes(result: list[dict], picture) -> tuple:
    """[{"label", "score", "box"}] -> (picture, [((x1, y1, x2, y2), "label 0.93")]) for gr.AnnotatedImage."""
    return picture, [(box_of(r["box"]), f"{r.get('label', 'object')} {float(r.get('score', 0)):.2f}") for r in result]


def mask_array(mask: Any, size: tuple[int, int]):
    """A mask (PIL, array, or base64 PNG) as a 0..1 float array of the picture's size (w, h)."""
    import numpy as np
    from PIL import Image

    if not isinstance(mask, (Image.Image, np.ndarray)):
        mask = to_pil(mask)
    if isinstance(mask, Image.Image):
        mask = mask.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.NEAREST)
        return np.asarray(mask, dtype=np.float32) / 255.0
    array = np.asarray(mask).squeeze().astype(np.float32)
    if array.max(initial=0) > 1:
        array = array / 255.0
    if array.shape != (size[1], size[0]):
        image = Image.fromarray((array * 255).astype(np.uint8)).resize(size, Image.NEAREST)
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array


def annotated_masks(result: Any, picture) -> tuple:
    masks = result if isinstance(result, list) else result.get("masks", [])
    notes = []
    for n, item in enumerate(masks):
        mask, score = (item.get("mask"), item.get("score")) if isinstance(item, dict) else (item, None)
        label = item.get("label") if isinstance(item, dict) else None  # segmentation names its masks
        name = (f"{label} ({n + 1})" if label else f"mask {n + 1}") + (f" {float(score):.2f}" if score is not None else "")
        notes.append((mask_array(mask, picture.size), name))
    return picture, notes


MAX_OVERLAYS = 25  # the picture shows the best ones; the table lists them all


def _annotated_view(spec: TaskSpec) -> OutputView:
    kind = spec.output
    picture = gr.AnnotatedImage(label="Result", elem_id=_id(spec, "annotated"))
    table = gr.Dataframe(label="Details", interactive=False, wrap=True, elem_id=_id(spec, "table"))

    def fill(result, inputs):
        base = base_image(inputs, spec)
        if kind == "boxes":
            best = sorted(result, key=lambda r: -float(r.get("score", 0)))
            rows = [[r.get("label"), round(float(r.get("score", 0)), 4), *box_of(r["box"])] for r in best]
            details = _table(["label", "score", "xmin", "ymin", "xmax", "ymax"], rows)
            annotated = annotated_boxes(best[:MAX_OVERLAYS], base) if base is not None else None
        else:
            items = result if isinstance(result, list) else result.get("masks", [])
            rows = [[r.get("label", n + 1), round(float(r["score"]), 4)] for n, r in enumerate(items)
                    if isinstance(r, dict) and "score" in r]
            details = _table(["mask", "score"], rows)
            annotated = annotated_masks(items[:MAX_OVERLAYS], base) if base is not None else None
        # the value itself, not a gr.update: an API client gets the picture and masks as files (gradio colours
        # each label)
        return [annotated, details]

    return OutputView(kind, [picture, table], fill)


def _entities_view(spec: TaskSpec) -> OutputView:
    marked = gr.HighlightedText(label="Entities", combine_adjacent=False, elem_id=_id(spec, "entities"))
    table = gr.Dataframe(label="Details", interactive=False, wrap=True, elem_id=_id(spec, "table"))

    def fill(result, inputs):
        names = [r.get("entity_group", r.get("entity")) for r in result]
        spans = [{"entity": name, "start": r["start"], "end": r["end"]} for name, r in zip(names, result)]
        rows = [[name, r["word"], round(float(r["score"]), 4), r["start"], r["end"]] for name, r in zip(names, result)]
        return [{"text": inputs.get("text", ""), "entities": spans},
                _table(["entity", "word", "score", "start", "end"], rows)]

    return OutputView("entities", [marked, table], fill)


def _json_view(spec: TaskSpec) -> OutputView:
    box = gr.JSON(label="Result", elem_id=_id(spec, "json"))
    return OutputView(spec.output, [box], lambda result, inputs: [to_jsonable(result)])


OUTPUTS: dict[str, Callable[[TaskSpec], OutputView]] = {
    "labels": _labels_view,
    "scores": _scores_view,
    "vectors": _vectors_view,
    "fill-mask": _fill_mask_view,
    "text": _text_view,
    "message": _text_view,  # {"role": "assistant", "content"}: the chat tab shows a chat window instead
    "answer": _answer_view,
    "audio": _audio_view,
    "transcript": _transcript_view,
    "image": _image_view,
    "boxes": _annotated_view,
    "masks": _annotated_view,
    "depth": _depth_view,
    "entities": _entities_view,
    "ranking": _scores_view,  # dicts with a "score": a table of their fields, best first
}
