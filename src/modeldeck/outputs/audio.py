"""audio: {"audio": samples, "sampling_rate": int} (speech synthesis)."""

from __future__ import annotations

import base64
from typing import Any

from .shapes import NUMBER, array, obj
from .view import OutputView, widget_id

SCHEMA = obj({"audio": array(NUMBER), "sampling_rate": {"type": "integer", "minimum": 1}})
BINARY = {"schema": {"type": "string", "format": "binary"}}
HTTP_TYPES = ("audio/wav", "audio/flac", "audio/mpeg")
BY_TYPE = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/flac": "flac", "audio/mpeg": "mp3", "audio/ogg": "opus"}


def samples_of(result: Any) -> tuple[int, Any]:
    """(rate, samples) of an audio result: {"audio"/"array", "sampling_rate"/"sample_rate"}, or the pair."""
    if isinstance(result, (list, tuple)) and len(result) == 2 and isinstance(result[0], int):
        return result[0], result[1]
    rate = result.get("sampling_rate") or result.get("sample_rate")
    return int(rate), result.get("audio", result.get("array"))


def pcm16(samples: Any):
    """Float or integer samples, (n,) or (n, channels) or (channels, n), as int16 of shape (n[, channels])."""
    import numpy as np

    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] < array.shape[1]:
        array = array.T  # (channels, n) -> (n, channels)
    if array.dtype.kind == "f":
        array = (np.clip(array, -1.0, 1.0) * 32767).round()
    return array.astype("<i2")


def text(result: Any, inputs: dict) -> str:
    rate, samples = samples_of(result)
    seconds = len(samples) / rate
    return f"{seconds:.1f} s of speech at {rate} Hz. Save it with -o speech.wav (or .flac, .ogg, .mp3)."


def html(result: Any, context: dict) -> str:
    from ..media.audio import encode

    rate, samples = samples_of(result)
    data = base64.b64encode(encode(samples, rate, "wav")[0]).decode("ascii")
    seconds = len(samples) / rate if rate else 0
    return (
        f'<audio controls src="data:audio/wav;base64,{data}"></audio>'
        f"<div>{seconds:.2f} s at {rate} Hz</div>"
    )


def audio_value(result: Any) -> tuple[int, Any] | None:
    """An audio result as (rate, int16 samples) for a playable gr.Audio."""
    rate, samples = samples_of(result)
    return rate, pcm16(samples)


def widget(spec) -> OutputView:
    import gradio as gr

    player = gr.Audio(label="Audio", type="numpy", interactive=False, elem_id=widget_id(spec, "audio"))
    return OutputView("audio", [player], lambda result, inputs: [audio_value(result)])


def http(result: Any, accept: str) -> tuple[bytes, str]:
    """The sound as a file of the type the Accept header asks for (WAV when none we make)."""
    from ..media.audio import encode

    return encode(result["audio"], result["sampling_rate"], from_accept(accept))


def from_accept(accept: str) -> str:
    """The format an Accept header asks for (WAV when it asks for none we make)."""
    for part in accept.split(","):
        kind = part.split(";")[0].strip().lower()
        if kind in BY_TYPE:
            return BY_TYPE[kind]
    return "wav"


def http_content(json_schema: dict) -> dict:
    """What an HTTP call answers, by content type: the sound file only."""
    return {t: BINARY for t in HTTP_TYPES}
