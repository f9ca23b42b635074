"""Audio in and out: decode any common file, bytes or base64; down-mix; resample; encode sound files.

Every audio input a task accepts goes through :func:`load_audio`, which returns
mono float32 samples in [-1, 1] at the rate the model wants, or raises
InvalidInput naming what is wrong (missing, empty, corrupt, not audio, no
samples, a bad sampling rate) and what to do about it.

Decoders: libsndfile (soundfile: WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF...)
first; then PyAV (installed with faster-whisper: M4A/AAC, WebM and whatever
FFmpeg reads). Resampling: soxr (high quality). Nothing here imports torch.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

FORMATS_HINT = "Give a WAV, FLAC, OGG or MP3 file (M4A/WebM work through PyAV), or (array, sampling_rate)."
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s_-]+$")


def load_audio(source: Any, sampling_rate: int | None = None, *, name: str = "audio"):
    """Mono float32 samples and their rate from any supported input, resampled to ``sampling_rate`` if given.

    ``source`` is a file path, raw file bytes, base64 text (optionally a
    ``data:audio/...;base64,`` URI), an ``(array, sampling_rate)`` pair, or a
    dict with ``"array"`` (or ``"raw"``) and ``"sampling_rate"`` (the datasets
    and transformers shape). Arrays may be (samples,), (samples, channels) or
    (channels, samples); integer PCM is scaled to [-1, 1].
    """
    audio, rate = decode(source, name=name)
    audio = to_mono(audio)
    if sampling_rate is not None and rate != sampling_rate:
        audio = resample(audio, rate, sampling_rate)
        rate = sampling_rate
    if len(audio) == 0:
        raise InvalidInput(f"The {name} is too short: less than one sample at {rate} Hz.", "Give at least a moment of sound.")
    return audio, rate


def decode(source: Any, *, name: str = "audio"):
    """(samples, rate) with samples float32, shape (n,) or (n, channels); no resampling."""
    import numpy as np

    if isinstance(source, dict):
        array = source.get("array", source.get("raw"))
        if array is None or "sampling_rate" not in source:
            raise InvalidInput(
                f"The {name} dict needs 'array' (or 'raw') and 'sampling_rate' keys; it has {sorted(source)}.",
                "Pass {'array': samples, 'sampling_rate': 16000}, or (samples, 16000).",
            )
        return from_array(array, source["sampling_rate"], name=name)
    if isinstance(source, tuple) and len(source) == 2:
        return from_array(source[0], source[1], name=name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return from_bytes(bytes(source), f"The {name} data")
    if isinstance(source, Path):
        return from_file(source, name=name)
    if isinstance(source, str):
        return from_text(source, name=name)
    if isinstance(source, (np.ndarray, list)) or hasattr(source, "numpy"):
        raise InvalidInput(
            f"The {name} array has no sampling rate.",
            "Pass (array, sampling_rate), e.g. (samples, 16000), so it can be resampled correctly.",
        )
    raise InvalidInput(
        f"Cannot read {name} from a {type(source).__name__}.",
        "Give a file path, bytes, base64 text, or (array, sampling_rate).",
    )


def from_text(text: str, *, name: str = "audio"):
    """A path, a data: URI or base64; a URL is refused (download it first)."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"The {name} input is empty.", "Give the path of an audio file.")
    if stripped.startswith("data:"):
        header, _, payload = stripped.partition(",")
        if ";base64" not in header:
            raise InvalidInput(f"The {name} data URI is not base64-encoded.", "Use data:audio/wav;base64,...")
        return from_bytes(b64decode(payload, name), f"The {name} data URI")
    if re.match(r"^[a-z]+://", stripped, re.I):
        raise InvalidInput(
            f"{stripped} is a URL; modeldeck does not fetch URLs for inputs.",
            "Download the file first and give its path.",
        )
    path = Path(stripped).expanduser()
    if len(stripped) < 1024 and path.exists():
        return from_file(path, name=name)
    if len(stripped) >= 64 and _BASE64.match(stripped):
        return from_bytes(b64decode(stripped, name), f"The base64 {name}")
    raise InvalidInput(f"No audio file at {stripped!r}.", "Check the path (or pass bytes or base64 audio).")


def b64decode(payload: str, name: str) -> bytes:
    try:
        cleaned = "".join(payload.split())
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput(f"The {name} text is not valid base64 ({e}).", "Give a file path or valid base64 audio.") from e


def from_file(path: Path, *, name: str = "audio"):
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not an audio file.", "Give the path of an audio file.")
    if not path.exists():
        raise InvalidInput(f"No audio file at {str(path)!r}.", "Check the path.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"Cannot read {path}: {e.strerror or e}.", "Check the file's permissions.") from e
    return from_bytes(data, str(path))


def from_bytes(data: bytes, label: str):
    """Decode a whole audio file held in memory."""
    if not data:
        raise InvalidInput(f"{label} is empty (0 bytes): there is no audio to read.", FORMATS_HINT)
    reasons = []
    for decoder in (_soundfile_decode, _pyav_decode):
        try:
            audio, rate = decoder(data)
        except ImportError:
            continue
        except Exception as e:  # each decoder has its own error types; any failure means "try the next"
            reasons.append(_reason(e))
            continue
        if audio.size == 0:
            raise InvalidInput(f"{label} decodes to no audio samples (0 s long).", "Check the recording.")
        return check_samples(audio, rate, label)
    kind = _sniff(data)
    if kind:
        raise InvalidInput(f"{label} is a {kind} file, not audio.", FORMATS_HINT)
    detail = f" ({reasons[0]})" if reasons and reasons[0] else ""
    raise InvalidInput(f"{label} could not be decoded as audio: it is corrupt, cut short, or not audio{detail}.", FORMATS_HINT)


def _reason(error: Exception) -> str:
    """The useful part of a decoder's error message (libsndfile's names a BytesIO object first)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = re.sub(r"^Error opening <[^>]*>:\s*", "", text)
    return re.sub(r"^Error\s*:\s*", "", text).strip().rstrip(".")


def _soundfile_decode(data: bytes):
    """libsndfile"""
    import soundfile

    audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio, int(rate)


def _pyav_decode(data: bytes):
    """PyAV"""
    import av
    import numpy as np

    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        resampler = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        parts = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                parts.append(out.to_ndarray())
        for out in resampler.resample(None):
            parts.append(out.to_ndarray())
    if not parts:
        return np.zeros((0, 1), dtype=np.float32), int(rate or 0)
    return np.concatenate(parts, axis=1).T.astype(np.float32, copy=False), int(rate)


def _sniff(data: bytes) -> str | None:
    """Name a common non-audio format from its first bytes, to say what the user gave instead."""
    head = data[:16]
    signatures = {
        b"\x89PNG": "PNG image", b"\xff\xd8\xff": "JPEG image", b"GIF8": "GIF image", b"%PDF": "PDF",
        b"PK\x03\x04": "ZIP archive", b"\x1f\x8b": "gzip archive", b"{": "JSON/text", b"<": "HTML/XML text",
    }
    for magic, kind in signatures.items():
        if head.startswith(magic):
            return kind
    try:
        data[:512].decode("utf-8")
        if all(c.isprintable() or c.isspace() for c in data[:512].decode("utf-8")):
            return "text"
    except UnicodeDecodeError:
        pass
    return None


def from_array(array: Any, sampling_rate: Any, *, name: str = "audio"):
    """Validate and normalise an in-memory signal and its rate."""
    import numpy as np

    check_rate(sampling_rate, name)
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    try:
        audio = np.asarray(array)
    except Exception as e:
        raise InvalidInput(f"The {name} array cannot be read as numbers ({e}).", "Pass a 1-D array of samples.") from e
    if audio.dtype == np.int64 and audio.size:  # a Python list of ints: the storage type says nothing, the values do
        peak = int(np.abs(audio).max())
        full_scale = 32768 if peak <= 32768 else 2**31 if peak <= 2**31 else None
        if full_scale is None:
            raise InvalidInput(f"The {name} samples reach {peak}, beyond 32-bit PCM.", "Pass float samples in [-1, 1].")
        audio = audio.astype(np.float32) / full_scale
    elif audio.dtype.kind == "i":  # PCM: int16 full scale is 32768
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    elif audio.dtype.kind == "u":  # unsigned PCM (8-bit WAV) is centred on half scale
        half = (float(np.iinfo(audio.dtype).max) + 1) / 2
        audio = (audio.astype(np.float32) - half) / half
    elif audio.dtype.kind != "f":
        raise InvalidInput(f"The {name} array has {audio.dtype} values, not numbers.", "Pass float samples in [-1, 1].")
    if audio.ndim == 0 or audio.ndim > 2:
        raise InvalidInput(
            f"The {name} array has shape {audio.shape}; expected (samples,) or (samples, channels).",
            "Pass one recording at a time.",
        )
    if audio.size == 0:
        raise InvalidInput(f"The {name} array is empty (0 samples).", "Pass at least a few milliseconds of audio.")
    if audio.ndim == 2 and audio.shape[0] < audio.shape[1] and audio.shape[0] <= 8:
        audio = audio.T  # (channels, samples) -> (samples, channels)
    audio = audio.astype(np.float32, copy=False)
    return check_samples(audio, int(sampling_rate), f"The {name} array")


MAX_RATE = 768_000  # the highest rate audio hardware records at; anything above is a mistake


def check_rate(sampling_rate: Any, name: str = "audio") -> None:
    import numbers

    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, numbers.Real):
        raise InvalidInput(
            f"The {name} sampling rate must be a number of samples per second, not {sampling_rate!r}.",
            "Pass (array, sampling_rate), e.g. (samples, 16000).",
        )
    if not sampling_rate > 0 or int(sampling_rate) != sampling_rate or sampling_rate > MAX_RATE:
        raise InvalidInput(
            f"The {name} sampling rate must be a whole number of samples per second from 1 to {MAX_RATE}, "
            f"not {sampling_rate!r}.",
            "Common rates are 16000, 22050, 44100 and 48000.",
        )


def check_samples(audio, rate: int, label: str):
    import numpy as np

    if not rate or rate <= 0:
        raise InvalidInput(f"{label} has no valid sampling rate ({rate}).", FORMATS_HINT)
    if not np.isfinite(audio).all():
        raise InvalidInput(f"{label} contains NaN or infinite samples.", "Clean the signal (e.g. numpy.nan_to_num).")
    return audio, rate


def to_mono(audio):
    """Average the channels of (n, channels) samples; 1-D input is returned as float32."""
    import numpy as np

    if audio.ndim == 2:
        audio = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    return np.ascontiguousarray(audio, dtype=np.float32)


def resample(audio, rate: int, target: int):
    """``audio`` (mono) from ``rate`` to ``target`` samples per second, with soxr's high quality filter."""
    import numpy as np
    import soxr

    if rate == target:
        return audio
    return np.ascontiguousarray(soxr.resample(audio, rate, target, quality="HQ"), dtype=np.float32)


def duration(audio, rate: int) -> float:
    return len(audio) / float(rate)


# -- writing ---------------------------------------------------------------------------------

ENCODINGS = {  # name -> (soundfile format, subtype, content type)
    "wav": ("WAV", "PCM_16", "audio/wav"),
    "flac": ("FLAC", "PCM_16", "audio/flac"),
    "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg"),
    "ogg": ("OGG", "VORBIS", "audio/ogg"),
    "opus": ("OGG", "OPUS", "audio/ogg"),
    "pcm": (None, None, "audio/pcm"),
}
PCM_RATE = 24_000  # raw PCM carries no header to say its rate: always OpenAI's 24 kHz, 16-bit little-endian, mono
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the only rates Opus encodes


def encode(samples, rate: int, fmt: str) -> tuple[bytes, str]:
    """Float samples in [-1, 1] (clipped) as a file of ``fmt`` (a key of ENCODINGS): its bytes and content type."""
    import numpy as np
    import soundfile

    if fmt not in ENCODINGS:
        raise ValueError(f"no audio encoding {fmt!r}; known: {', '.join(ENCODINGS)}")
    kind, subtype, content_type = ENCODINGS[fmt]
    samples, rate = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), int(rate)
    if fmt == "pcm":
        samples = resample(samples, rate, PCM_RATE)
        return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), content_type
    if fmt == "opus" and rate not in OPUS_RATES:
        samples, rate = resample(samples, rate, 48000), 48000
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=kind, subtype=subtype)
    return buffer.getvalue(), content_type


def write_audio(path: str | Path, audio, sampling_rate: int) -> Path:
    """Write ``audio`` to ``path``; the format follows the suffix (.wav default, .flac, .ogg, .mp3)."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(audio, sampling_rate, suffix if suffix in ("flac", "ogg", "mp3") else "wav")[0])
    return path
