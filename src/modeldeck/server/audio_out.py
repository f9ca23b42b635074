"""Speech as file bytes: WAV, FLAC, MP3, Opus (in Ogg) or raw 16-bit PCM."""

from __future__ import annotations

import io

from .errors import ClientError

FORMATS = {  # name -> (soundfile format, subtype, content type)
    "wav": ("WAV", "PCM_16", "audio/wav"),
    "flac": ("FLAC", "PCM_16", "audio/flac"),
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
    "opus": ("OGG", "OPUS", "audio/ogg"),
    "pcm": (None, None, "audio/pcm"),
}
BY_TYPE = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/flac": "flac", "audio/mpeg": "mp3", "audio/ogg": "opus"}
PCM_RATE = 24_000  # OpenAI's pcm: 24 kHz, 16-bit little-endian, mono


def encode(audio, rate: int, fmt: str) -> tuple[bytes, str]:
    """The samples as a file of ``fmt``; its bytes and content type."""
    import numpy as np
    import soundfile

    if fmt not in FORMATS:
        raise ClientError(400, f"response_format must be one of {', '.join(FORMATS)}, not {fmt!r}.",
                          param="response_format")
    kind, subtype, content_type = FORMATS[fmt]
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if fmt == "pcm":
        from ..media.audio import resample

        samples = resample(samples, int(rate), PCM_RATE) if int(rate) != PCM_RATE else samples
        return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), content_type
    if fmt == "opus" and int(rate) not in (8000, 12000, 16000, 24000, 48000):
        from ..media.audio import resample

        samples, rate = resample(samples, int(rate), 48000), 48000
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, int(rate), format=kind, subtype=subtype)
    return buffer.getvalue(), content_type


def from_accept(accept: str) -> str:
    """The format an Accept header asks for (WAV when it asks for none we make)."""
    for part in accept.split(","):
        kind = part.split(";")[0].strip().lower()
        if kind in BY_TYPE:
            return BY_TYPE[kind]
    return "wav"
