"""audio: {"audio": samples, "sampling_rate": int} (speech synthesis)."""

from __future__ import annotations

import base64
import io
from typing import Any

from .shapes import NUMBER, array, obj
from .view import OutputView, widget_id

SCHEMA = obj({"audio": array(NUMBER), "sampling_rate": {"type": "integer", "minimum": 1}})
BINARY = {"schema": {"type": "string", "format": "binary"}}
HTTP_TYPES = ("audio/wav", "audio/flac", "audio/mpeg")


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


def wav_bytes(samples: Any, rate: int) -> bytes:
    """16-bit PCM WAV of ``samples`` (any shape ``pcm16`` takes)."""
    import wave

    array = pcm16(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1 if array.ndim == 1 else array.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(array.tobytes())
    return buffer.getvalue()


def html(result: Any, context: dict) -> str:
    rate, samples = samples_of(result)
    data = base64.b64encode(wav_bytes(samples, rate)).decode("ascii")
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
    from ..server.audio_out import encode, from_accept

    return encode(result["audio"], result["sampling_rate"], from_accept(accept))


def http_content(json_schema: dict) -> dict:
    """What an HTTP call answers, by content type: the sound file only."""
    return {t: BINARY for t in HTTP_TYPES}
