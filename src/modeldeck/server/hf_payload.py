"""The Hugging Face Inference payloads, as ``InferenceClient`` sends them, turned into task calls.

``{"inputs": ..., "parameters": {...}}`` JSON for most tasks (inputs a value for
the task's first input, or an object keyed by input names); raw file bytes for
picture and sound tasks; base64 JSON for zero-shot image classification,
detection with a threshold, and visual question answering (question and image
at the top level). Feature extraction takes its options at the top level.
Hugging Face parameter names map to modeldeck's; ones modeldeck does not have
are refused by name unless they are empty or say "the default".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ClientError
from .media import looks_like_media, sniff

# Hugging Face parameter names -> modeldeck's.
RENAMES = {
    "num_inference_steps": "steps",
    "max_tokens": "max_new_tokens",
    "return_timestamps": None,  # transcripts always carry their timestamps
}
# Parameters the client sends that change nothing here when off or at their usual value.
HARMLESS = {
    "clean_up_tokenization_spaces", "truncation", "truncate", "truncation_direction", "use_cache",
    "wait_for_model", "details", "decoder_input_details", "watermark", "function_to_apply", "align_to_words",
    "encoding_format", "prompt_name", "early_stopping",
}
HARMLESS_VALUES = {None, False, "float", "none", "softmax", "right", "do_not_truncate", "only_first"}
# Top-level keys that are not inputs or parameters.
ENVELOPE = {"inputs", "parameters", "stream", "options", "model"}


@dataclass
class Call:
    """One task call from a request: inputs, parameters, and what the dialect asked beyond the task."""

    task: str
    inputs: dict[str, Any]
    params: dict[str, Any]
    stream: bool = False
    stop: list[str] = field(default_factory=list)


def parse_body(body: bytes, content_type: str) -> Any:
    """JSON when the body is JSON (declared, undeclared, or sent as curl -d's form), else the raw bytes (a file)."""
    kind = content_type.split(";")[0].strip().lower()
    # curl -d sends JSON labelled as a form (application/x-www-form-urlencoded), as the hosted API accepts it
    guessed = kind in ("", "application/x-www-form-urlencoded") and body.lstrip()[:1] in (b"{", b"[")
    if kind == "application/json" or guessed:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ClientError(422, "The body is not valid JSON.", hint="Send JSON, or the file's raw bytes.") from None
    if not body:
        raise ClientError(422, "The request has no body.", param="inputs",
                          hint='Send {"inputs": ..., "parameters": {...}} or a file\'s bytes.')
    return body


class NoFit(Exception):
    """This payload is not a call of that task (the next candidate task is tried)."""


def to_call(spec, payload: Any, content_type: str = "") -> Call:
    """The call of task ``spec`` that ``payload`` makes, or NoFit."""
    first = spec.inputs[0]
    required = [i for i in spec.inputs if not i.optional]
    if isinstance(payload, (bytes, bytearray)):
        kind = sniff(payload, content_type)
        if first.kind not in ("image", "audio") or (kind is not None and kind != first.kind) or len(required) > 1:
            raise NoFit(f"a {kind or 'binary'} file")
        return Call(spec.name, {first.name: bytes(payload)}, {})
    if not isinstance(payload, dict):
        raise NoFit("JSON that is not an object")
    if "inputs" not in payload:
        raise NoFit("no 'inputs'")
    raw, params = payload["inputs"], payload.get("parameters") or {}
    if not isinstance(params, dict):
        raise ClientError(422, "'parameters' must be an object.", param="parameters")
    params = dict(params)
    extras = {k: v for k, v in payload.items() if k not in ENVELOPE}
    if spec.name == "feature-extraction":  # the client sends these at the top level
        params.update(extras)
        extras = {}
    names = {i.name for i in spec.inputs}
    inputs: dict[str, Any] = {}
    if isinstance(raw, dict):
        unknown = set(raw) - names
        if unknown:
            raise NoFit(f"inputs {sorted(unknown)}")
        inputs.update(raw)
    else:
        inputs[first.name] = raw
    for source in (extras, params):  # VQA's question and image at the top level; image-to-image's prompt
        for name in [n for n in source if n in names]:
            value = source.pop(name)
            if name in inputs and not (name == first.name and _same_media(inputs[name], value)):
                raise NoFit(f"{name!r} given twice")
            inputs.setdefault(name, value)
    if extras:
        raise NoFit(f"top-level {sorted(extras)}")
    for item in spec.inputs:
        if item.name not in inputs:
            if not item.optional:
                raise NoFit(f"no {item.name!r}")
            continue
        _check_kind(item, inputs[item.name])
    stream = bool(payload.get("stream"))
    stop = _stop(params)
    mapped = _params(spec, params)
    known = {p.name for p in spec.params}
    unknown = [n for n in mapped if n not in known]
    if unknown and spec.name != "text-generation":  # text generation answers in TGI's words (InferenceClient retries)
        from ..errors import did_you_mean

        hint = did_you_mean(unknown[0], known) or f"it takes: {', '.join(sorted(known)) or 'no parameters'}"
        raise NoFit(f"no parameter {unknown[0]!r} ({hint})")
    return Call(spec.name, inputs, mapped, stream=stream, stop=stop)


def _same_media(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.strip() == b.strip()


def _check_kind(item, value) -> None:
    """NoFit when the value cannot be this input (text for a picture, a picture for text)."""
    values = value if item.many and isinstance(value, list) else [value]
    if item.kind in ("image", "audio"):
        if not all(looks_like_media(v) for v in values):
            raise NoFit(f"{item.name!r} is not base64")
    elif item.kind == "text":
        if not all(isinstance(v, str) for v in values) or (len(values) == 1 and looks_like_media(values[0])
                                                            and not values[0].strip().startswith("http")):
            raise NoFit(f"{item.name!r} is not text")
    elif item.kind == "messages" and not isinstance(value, (str, list)):
        raise NoFit("not a conversation")


def _stop(params: dict) -> list[str]:
    stop = params.pop("stop", None) or params.pop("stop_sequences", None) or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise ClientError(400, "stop must be a string or a list of non-empty strings.", param="stop")
    return stop


def _params(spec, given: dict[str, Any]) -> dict[str, Any]:
    """Hugging Face parameters as the task's: renamed, nested generation settings flattened, no-ops dropped."""
    known = {p.name for p in spec.params}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("generate_parameters", "generation_parameters", "generate_kwargs") and isinstance(value, dict):
            out.update(_params(spec, value))
            continue
        if name == "target_size" and isinstance(value, dict):
            out.update({k: v for k, v in value.items() if k in ("width", "height")})
            continue
        if name in RENAMES:
            if RENAMES[name] is None:
                continue
            name = RENAMES[name]
        if name in known:
            if value is not None:
                out[name] = value
        elif name in HARMLESS and _harmless(value):
            continue
        elif value is not None:
            out[name] = value  # refused by the spec, by name, with the parameters it does take
    return out


def _harmless(value) -> bool:
    try:
        return value in HARMLESS_VALUES
    except TypeError:  # unhashable
        return False


def pick(specs: list, payload: Any, content_type: str, model: str) -> Call:
    """The call of the first task (of those the model serves) that the payload fits."""
    reasons = []
    for spec in specs:
        try:
            return to_call(spec, payload, content_type)
        except NoFit as why:
            reasons.append(f"{spec.name}: {why}")
    names = ", ".join(s.name for s in specs)
    raise ClientError(
        400, f"Model {model} serves {names}; this request fits none of them: {'; '.join(reasons)}.",
        param="inputs",
        hint=f"Send the payload of one of them, or name the task: POST /models/{model}/pipeline/TASK.",
    )
