"""Results that show themselves in Jupyter: pictures, players and tables instead of raw dicts.

``wrap(output_kind, result)`` returns the same value (equal to the plain
result, JSON-ready through ``to_jsonable``, picklable, with the plain
list/dict ``repr``) that also has ``_repr_html_`` (and ``_repr_png_`` for
pictures), which Jupyter calls and plain Python never does. Plain lists and
dicts become ``ShownList`` / ``ShownDict``; results that are already a
list or dict subclass (``Transcript``, ``DepthResult``) keep their class
through a subclass made for them, so ``isinstance`` and their attributes
still hold. Anything else (text, a PIL image, which shows itself) is
returned as it is. Nothing here imports torch.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from typing import Any

from .render import number
from .render import text_of as _text_of

# Mixed-in classes made for result classes that are already list/dict subclasses: base -> subclass.
_SUBCLASSES: dict[type, type] = {}
MAX_ROWS = 50  # rows shown in a table; the value itself keeps every item
MAX_PICTURES = 12


class Shown:
    """Mixin: Jupyter display for a result of one output kind (``_display_kind``)."""

    __slots__ = ()

    def _repr_html_(self) -> str | None:
        try:
            return html_for(self._display_kind, self, getattr(self, "_display_context", {}))
        except Exception:  # noqa: BLE001 - a display that cannot draw falls back to the plain repr
            return None

    def _repr_png_(self) -> bytes | None:
        try:
            picture = picture_for(self._display_kind, self, getattr(self, "_display_context", {}))
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
        if isinstance(result, Shown):  # already shown (the runner wraps): the caller may add inputs
            if inputs:
                result._display_context = context_of(output_kind, inputs)
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
        shown._display_context = context_of(output_kind, inputs or {})
        return shown
    except Exception:  # noqa: BLE001 - display is a nicety: the plain result is always fine
        return result


def context_of(kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a display needs from the inputs: the picture to draw on, the candidates' names."""
    found: dict[str, Any] = {}
    if kind in ("boxes", "masks"):
        for value in inputs.values():
            value = value[0] if isinstance(value, list) and value else value
            if type(value).__module__.startswith("PIL."):
                found["picture"] = value
                break
    if kind == "entities" and isinstance(inputs.get("text"), str):
        found["text"] = inputs["text"]
    if kind in ("scores", "vectors"):
        names = next((v for v in inputs.values() if isinstance(v, list)), None)
        if names is not None:
            found["names"] = [_name(v) for v in names]
    return found


def _name(value: Any) -> str:
    if type(value).__module__.startswith("PIL."):
        return str(getattr(value, "info", {}).get("source", "image"))
    return str(value)


# -- building blocks ----------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def png_bytes(picture: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def img_tag(picture: Any, max_width: int = 640) -> str:
    data = base64.b64encode(png_bytes(picture)).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" width="{picture.width}" height="{picture.height}" '
        f'style="max-width:{max_width}px;height:auto" alt="result picture">'
    )


def table(columns: list[str], rows: list[list[Any]], raw: set[int] = frozenset()) -> str:
    """An HTML table; cells in columns ``raw`` are HTML already, the rest are escaped."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows[:MAX_ROWS]:
        cells = "".join(f"<td>{cell if i in raw else esc(cell)}</td>" for i, cell in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    more = f"<p>... and {len(rows) - MAX_ROWS} more</p>" if len(rows) > MAX_ROWS else ""
    return f'<table class="modeldeck"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def bar(score: float) -> str:
    """A small horizontal bar for a 0..1 score."""
    width = max(0.0, min(1.0, float(score))) * 100
    return (
        '<div style="background:#e5e7eb;width:160px;height:10px">'
        f'<div style="background:#4f46e5;width:{width:.1f}%;height:10px"></div></div>'
    )


def score_text(score: Any) -> str:
    return number(score)


def text_block(text: str) -> str:
    return f'<div style="white-space:pre-wrap">{esc(text)}</div>'


# -- one function per output kind ---------------------------------------------------------------


def labels_html(result: Any, context: dict) -> str:
    groups = result if result and isinstance(result[0], list) else [result]
    out = []
    for group in groups:
        rows = [[_item_name(r), score_text(r["score"]), bar(r["score"])] for r in group]
        out.append(table(["label", "score", ""], rows, raw={2}))
    return "".join(out)


def _item_name(item: dict) -> str:
    for key in ("label", "text", "answer", "image", "token_str"):
        if item.get(key) is not None:
            return _name(item[key])
    return "?"


def scores_html(result: Any, context: dict) -> str:
    if result and isinstance(result[0], dict):
        columns = [k for k in result[0] if k != "score"] + ["score"]
        ranked = sorted(result, key=lambda r: -float(r["score"]))
        rows = [[_name(r.get(c)) if c != "score" else score_text(r["score"]) for c in columns] for r in ranked]
        return table(["rank", *columns], [[n + 1, *row] for n, row in enumerate(rows)])
    names = context.get("names") or [f"#{n + 1}" for n in range(len(result))]
    ranked = sorted(zip(names, result), key=lambda pair: -float(pair[1]))
    return table(["rank", "candidate", "score"], [[n + 1, name, score_text(s)] for n, (name, s) in enumerate(ranked)])


def vectors_html(result: Any, context: dict) -> str:
    vectors = result if hasattr(result[0], "__len__") else [result]  # one vector, or one per text
    names = context.get("names") or [""] * len(vectors)
    rows = []
    for name, vector in zip([*names, *[""] * len(vectors)], vectors):
        values = [float(x) for x in vector]
        head = ", ".join(number(x, sign=True) for x in values[:6])
        rows.append([name, len(values), f"{math.sqrt(sum(x * x for x in values)):.4f}", f"[{head}, ...]"])
    return table(["text", "dims", "norm", "first values"], rows)


def fill_mask_html(result: Any, context: dict) -> str:
    groups = result if result and isinstance(result[0], list) else [result]
    rows = [[n + 1, r["token_str"], score_text(r["score"]), bar(r["score"]), r["sequence"]]
            for n, group in enumerate(groups) for r in group]
    return table(["mask", "token", "score", "", "sequence"], rows, raw={3})


def text_of(result: Any) -> str:
    text = _text_of(result)
    return text if text is not None else str(result)


def text_html(result: Any, context: dict) -> str:
    if isinstance(result, list) and len(result) > 1:
        return "".join(f"<p><b>{n + 1}.</b></p>{text_block(text_of(r))}" for n, r in enumerate(result))
    return text_block(text_of(result))


def message_html(result: Any, context: dict) -> str:
    return f"<p><b>{esc(result.get('role', 'assistant'))}:</b></p>{text_block(text_of(result))}"


def answer_html(result: Any, context: dict) -> str:
    answers = result if isinstance(result, list) else [result]
    rows = [[a.get("answer") or "(no answer)", score_text(a.get("score", 0)), a.get("start"), a.get("end")]
            for a in answers]
    return table(["answer", "score", "start", "end"], rows)


def wav_bytes(samples: Any, rate: int) -> bytes:
    """16-bit PCM WAV of float or integer samples, (n,) or (n, channels) or (channels, n)."""
    import wave

    import numpy as np

    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] < array.shape[1]:
        array = array.T
    if array.dtype.kind == "f":
        array = (np.clip(array, -1.0, 1.0) * 32767).round()
    array = array.astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1 if array.ndim == 1 else array.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(array.tobytes())
    return buffer.getvalue()


def audio_html(result: Any, context: dict) -> str:
    rate = int(result.get("sampling_rate") or result.get("sample_rate"))
    samples = result.get("audio", result.get("array"))
    data = base64.b64encode(wav_bytes(samples, rate)).decode("ascii")
    seconds = len(samples) / rate if rate else 0
    return (
        f'<audio controls src="data:audio/wav;base64,{data}"></audio>'
        f"<div>{seconds:.2f} s at {rate} Hz</div>"
    )


def transcript_html(result: Any, context: dict) -> str:
    rows = []
    for chunk in result.get("chunks") or []:
        start, end = (list(chunk.get("timestamp") or []) + [None, None])[:2]
        rows.append([_clock(start), _clock(end), str(chunk.get("text", "")).strip()])
    return text_block(str(result.get("text", "")).strip()) + (table(["start", "end", "text"], rows) if rows else "")


def _clock(seconds: Any) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes):d}:{secs:05.2f}"


def pictures_of(result: Any) -> list:
    from PIL import Image

    if isinstance(result, dict):  # a generation result: {"images": [...], "nsfw": [...], "seed", "parameters"}
        result = result.get("images") or []
    items = result if isinstance(result, list) else [result]
    return [i for i in items if isinstance(i, Image.Image)]


def image_html(result: Any, context: dict) -> str:
    pictures = pictures_of(result)
    shown = "".join(img_tag(p, 320 if len(pictures) > 1 else 640) for p in pictures[:MAX_PICTURES])
    if isinstance(result, dict) and "seed" in result:  # what makes the picture again
        flagged = sum(bool(f) for f in result.get("nsfw") or [])
        note = f", {flagged} blacked out by the safety checker" if flagged else ""
        shown += f"<div>seed {esc(result['seed'])}{note}</div>"
    return shown


def image_picture(result: Any, context: dict):
    pictures = pictures_of(result)
    return pictures[0] if len(pictures) == 1 else None


def boxes_picture(result: Any, context: dict):
    from .media.draw import draw_boxes

    picture = context.get("picture")
    return None if picture is None else draw_boxes(picture, result)


def boxes_html(result: Any, context: dict) -> str:
    picture = boxes_picture(result, context)
    rows = []
    for r in sorted(result, key=lambda r: -float(r.get("score", 0))):
        box = r["box"]
        rows.append([r.get("label"), score_text(r.get("score", 0)), *(box[k] for k in ("xmin", "ymin", "xmax", "ymax"))])
    shown = img_tag(picture) if picture is not None else ""
    return shown + table(["label", "score", "xmin", "ymin", "xmax", "ymax"], rows)


def _masks(result: Any) -> list:
    items = result if isinstance(result, list) else result.get("masks", [])
    return [r.get("mask") if isinstance(r, dict) else r for r in items]


def masks_picture(result: Any, context: dict):
    import numpy as np
    from PIL import Image

    from .media.draw import overlay_masks

    masks = [np.asarray(m).astype(bool) for m in _masks(result)[:25]]
    if not masks:
        return None
    picture = context.get("picture")
    if picture is None or picture.size != masks[0].shape[::-1]:
        picture = Image.new("RGB", masks[0].shape[::-1], (255, 255, 255))
    return overlay_masks(picture, masks)


def masks_html(result: Any, context: dict) -> str:
    picture = masks_picture(result, context)
    items = result if isinstance(result, list) else result.get("masks", [])
    rows = [[r.get("label", n + 1), score_text(r["score"]), bar(r["score"])] for n, r in enumerate(items)
            if isinstance(r, dict) and "score" in r]
    return (img_tag(picture) if picture is not None else "") + table(["mask", "score", ""], rows, raw={2})


def entities_html(result: Any, context: dict) -> str:
    """The text with each entity marked and labelled, then the entities as a table."""
    text, marked, at = context.get("text"), [], 0
    rows = [[r.get("entity_group", r.get("entity")), r["word"], score_text(r["score"]), r["start"], r["end"]]
            for r in result]
    if text:
        for r in sorted(result, key=lambda r: r["start"]):
            if r["start"] < at:
                continue  # overlapping tokens (aggregation "none" of one word) are marked once
            label = r.get("entity_group", r.get("entity"))
            marked.append(esc(text[at : r["start"]]))
            marked.append(f'<mark title="{esc(label)} {score_text(r["score"])}">{esc(text[r["start"] : r["end"]])}'
                          f"<sub>{esc(label)}</sub></mark>")
            at = r["end"]
        marked.append(esc(text[at:]))
    shown = f'<div style="white-space:pre-wrap">{"".join(marked)}</div>' if text else ""
    return shown + table(["entity", "word", "score", "start", "end"], rows)


def depth_picture(result: Any, context: dict):
    from .media.draw import depth_to_colour

    depth = getattr(result, "predicted_depth", None)
    if depth is None:
        depth = result.get("predicted_depth") if "predicted_depth" in result else result.get("depth")
    return None if depth is None else depth_to_colour(depth)


def depth_html(result: Any, context: dict) -> str:
    picture = depth_picture(result, context)
    low, high = result.get("min"), result.get("max")
    scale = f"<div>depth from {float(low):.3g} (blue) to {float(high):.3g} (red)</div>" if low is not None else ""
    return (img_tag(picture) if picture is not None else "") + scale


HTML: dict[str, Callable[[Any, dict], str]] = {
    "labels": labels_html,
    "scores": scores_html,
    "vectors": vectors_html,
    "fill-mask": fill_mask_html,
    "text": text_html,
    "message": message_html,
    "answer": answer_html,
    "audio": audio_html,
    "transcript": transcript_html,
    "image": image_html,
    "boxes": boxes_html,
    "masks": masks_html,
    "depth": depth_html,
    "entities": entities_html,
    "ranking": scores_html,  # dicts with a "score": a ranked table of their fields
}
PICTURES: dict[str, Callable[[Any, dict], Any]] = {
    "image": image_picture,
    "boxes": boxes_picture,
    "masks": masks_picture,
    "depth": depth_picture,
}


def html_for(kind: str, result: Any, context: dict | None = None) -> str | None:
    """The HTML Jupyter shows for a result of ``kind`` (None: no rich display for it)."""
    make = HTML.get(kind)
    return None if make is None or not result else make(result, context or {})


def picture_for(kind: str, result: Any, context: dict | None = None):
    """The PIL picture of a result (annotated boxes, masks, depth colour map), or None."""
    make = PICTURES.get(kind)
    return None if make is None or not result else make(result, context or {})


# -- the task list ------------------------------------------------------------------------------


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
        from .pipelines import specs as all_specs

        specs = all_specs()
    return TaskTable(specs)
