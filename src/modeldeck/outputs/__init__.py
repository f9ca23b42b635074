"""One module per output kind: each gives a result of its kind in every form an interface shows.

A kind module (named after its kind in ``modeldeck.spec.OutputKind``, "-" as "_") has:

- ``SCHEMA``: the JSON Schema of the kind's JSON form. The JSON form itself is ``to_jsonable(result)``
  for every kind (arrays as lists, pictures as base64 PNG).
- ``widget(spec)``: the UI's ``OutputView`` (gradio imported inside, only when a UI is built).
- optional ``text(result, inputs)``: terminal text (else the indented JSON form). ``Task.render`` shows
  an empty result as its spec's ``nothing_found`` line instead, where the spec has one.
- optional ``html(result, context)`` and ``picture(result, context)``: what a notebook shows, with
  ``context(inputs)`` picking what they need from the call's inputs (the picture to draw on...).
- optional ``http(result, accept)`` -> (bytes, content type), or None for the JSON form, and
  ``http_content(json_schema)``: the HTTP answer's content types (else JSON).
- optional ``transport(result)``: the result as it travels best between processes (Ray's object store;
  else as it is).

A new output kind is one module here and its row in ``KINDS``. Results stay plain data: the notebook
wrapping (``outputs.notebook``) happens where results leave ``modeldeck.run``/``load``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import (answer, audio, boxes, depth, entities, fill_mask, image, labels, masks, message, ranking,
               scores, text, transcript, vectors)
from .common import as_json
from .view import OutputView, json_view

if TYPE_CHECKING:
    from ..spec import TaskSpec

KINDS: dict[str, ModuleType] = {
    "labels": labels,
    "scores": scores,
    "vectors": vectors,
    "fill-mask": fill_mask,
    "text": text,
    "message": message,
    "answer": answer,
    "audio": audio,
    "transcript": transcript,
    "image": image,
    "boxes": boxes,
    "masks": masks,
    "depth": depth,
    "entities": entities,
    "ranking": ranking,
}


def _part(kind: str, name: str) -> Any:
    return getattr(KINDS.get(kind), name, None)


def to_text(kind: str, result: Any, inputs: dict) -> str:
    """Terminal text for ``result`` of an output ``kind``; JSON when the kind has no text of its own."""
    return (_part(kind, "text") or as_json)(result, inputs)


def context(kind: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What a notebook display needs from the call's inputs (the picture to draw on, candidates' names)."""
    pick = _part(kind, "context")
    return pick(inputs) if pick else {}


def to_html(kind: str, result: Any, context: dict | None = None) -> str | None:
    """The HTML a notebook shows for a result of ``kind`` (None: no rich display for it)."""
    make = _part(kind, "html")
    return None if make is None or not result else make(result, context or {})


def to_picture(kind: str, result: Any, context: dict | None = None):
    """The PIL picture of a result (annotated boxes, masks, depth colour map), or None."""
    make = _part(kind, "picture")
    return None if make is None or not result else make(result, context or {})


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's JSON form (KeyError for a kind not known)."""
    return KINDS[kind].SCHEMA


def output_view(spec: TaskSpec) -> OutputView:
    """The UI's output widgets for a task, by its output kind (JSON for kinds not known here)."""
    make = _part(spec.output, "widget") or json_view
    return make(spec)


def http_body(kind: str, result: Any, accept: str) -> tuple[bytes, str] | None:
    """A result as HTTP body bytes and content type, where its kind answers in a file; None: the JSON form."""
    encode = _part(kind, "http")
    return encode(result, accept) if encode else None


def for_transport(kind: str, result: Any) -> Any:
    """A result as it travels best from a Ray replica to the ingress (the result itself for most kinds)."""
    pack = _part(kind, "transport")
    return pack(result) if pack else result


def http_content(kind: str, json_schema: dict[str, Any]) -> dict[str, Any]:
    """An HTTP answer's content types and schemas (OpenAPI), given the JSON form's schema."""
    describe = _part(kind, "http_content")
    return describe(json_schema) if describe else {"application/json": {"schema": json_schema}}
