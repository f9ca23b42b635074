"""text-to-speech: text -> a waveform (numpy float32) and its sampling rate; the CLI writes a WAV.

Two backends, picked from the model folder: Piper voices (``NAME.onnx`` +
``NAME.onnx.json``; the packaged en_US-joe-medium is the offline default) and
transformers VITS models (kakao-enterprise/vits-ljs, facebook/mms-tts-*).
Long text is split at sentence boundaries, each sentence is spoken on its
own, and the pieces are joined with a short pause.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, MissingDependency, require
from ..generation import seeded
from ..spec import Info, Input, Param, TaskSpec
from ..task import Task

MAX_CHARS = 400  # longer sentences are cut at commas, then at spaces
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？;])\s+|\n\s*\n|\n(?=\s*[-*•\d])")


def split_sentences(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """``text`` cut at sentence ends (and blank lines); overlong sentences at commas, then spaces."""
    pieces = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = " ".join(sentence.split())
        while len(sentence) > max_chars:
            cut = max(sentence.rfind(", ", 0, max_chars), sentence.rfind("; ", 0, max_chars))
            cut = cut + 1 if cut > max_chars // 3 else sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    return pieces


class TextToSpeech(Task):
    spec = TaskSpec(
        name="text-to-speech",
        summary="Speak a text aloud: a waveform you can save as WAV (-o speech.wav).",
        default_model="kakao-enterprise/vits-ljs",
        offline_default="rhasspy/piper-voices/en_US-joe-medium",
        inputs=(Input("text", "text", help="the text to speak"),),
        output="audio",
        output_help='{"audio": float32 samples, "sampling_rate": int}',
        params=(
            Param("speed", float, 1.0, "speaking rate: 2.0 is twice as fast, 0.5 half as fast", min=0.1, max=10),
            Param("seed", int, None, "random seed, for the same waveform every time (VITS)", min=0, max=2**63 - 1),
            Param(
                "variation", float, 1.0, "how much the voice varies: 1 is its own, 0 the same speech every time", min=0, max=2
            ),
            Param("speaker", int, None, "speaker id, for voices with several speakers", min=0),
            Param("sentence_silence", float, 0.2, "seconds of silence between sentences", min=0, max=10, stage="postprocess"),
        ),
        aliases=("text-to-audio", "tts"),
        infos=(Info("list_speakers", "Print the voice's speaker names and numbers (for --speaker), and exit."),),
        model_types=("vits",),  # Piper voices have no config.json and are found by their .onnx.json
        modality="audio",
        examples=({"text": "Hello! modeldeck speaks, even offline."},),
    )

    output_suffixes = (".wav", ".flac", ".ogg", ".mp3", "")

    def load(self) -> None:
        from ..backends.piper import find_voice, load_voice, sampling_rate

        if find_voice(self.model_path) is not None:
            self.backend = "piper"
            self.voice = load_voice(self.model_path, self.device)
            self.sampling_rate = sampling_rate(self.voice)
            return
        import json

        from transformers import AutoTokenizer, VitsModel

        from ..backends.transformers import load_model, load_processor

        config_file = self.model_path / "config.json"
        model_type = json.loads(config_file.read_text()).get("model_type") if config_file.exists() else None
        if model_type != "vits":
            raise InvalidInput(
                f"{self.model_id} is a {model_type or 'non-VITS'} model; this task runs VITS models and Piper voices.",
                "Use kakao-enterprise/vits-ljs, a facebook/mms-tts-* model, or a Piper voice (.onnx + .onnx.json).",
            )
        self.backend = "transformers"
        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        if getattr(self.tokenizer, "phonemize", False):
            require("phonemizer", "phonemizer", "speech")
        self.model = load_model(VitsModel, self.model_path, self.device)
        self.sampling_rate = int(self.model.config.sampling_rate)

    def list_speakers(self) -> dict[str, int]:
        """The voice's speakers: name -> number (numbers alone where the voice names none)."""
        if self.backend == "piper":
            names = getattr(getattr(self.voice, "config", None), "speaker_id_map", None) or {}
            return {str(k): int(v) for k, v in dict(names).items()}
        count = int(self.model.config.num_speakers or 1)
        return {str(i): i for i in range(count)} if count > 1 else {}

    @classmethod
    def render_info(cls, name: str, value) -> str:
        return "\n".join(f"{number}  {speaker}" for speaker, number in value.items()) or "This voice has one speaker."

    def validate(self, inputs, params) -> None:
        from .. import limits

        limits.check("speech_chars", len(inputs["text"]), "The text to speak (characters)")

    def preprocess(self, inputs, **_) -> list[str]:
        sentences = split_sentences(inputs["text"])
        if not any(re.search(r"\w", s) for s in sentences):
            raise InvalidInput("The text has nothing to speak (no letters or digits).", "Give some words.")
        return sentences

    def forward(self, batch, **params) -> list:
        return [self.speak(sentences, **params) for sentences in batch]

    def speak(self, sentences, speed=1.0, seed=None, speaker=None, variation=1.0) -> list:
        """One waveform per sentence."""
        if self.backend == "piper":
            from ..backends.piper import synthesize

            return [
                wave for s in sentences
                for wave in synthesize(self.voice, s, speed=speed, speaker=speaker, variation=variation)
            ]
        return self._vits(sentences, speed, seed, speaker, variation)

    def _vits(self, sentences, speed, seed, speaker, variation=1.0) -> list:
        speakers = int(self.model.config.num_speakers or 1)
        if speaker is not None and not 0 <= speaker < speakers:
            raise InvalidInput(
                f"This model has {speakers} speaker{'s' if speakers != 1 else ''}; there is no speaker {speaker}.",
                f"Use a speaker id from 0 to {speakers - 1}." if speakers > 1 else "Leave --speaker out.",
                param="speaker",
            )
        # VITS reads its rate and noise from attributes of the model: set them on a shallow copy (same
        # weights), so a call's settings never show through to another call.
        model = copy.copy(self.model)
        config = self.model.config
        model.speaking_rate = float(speed)
        model.noise_scale = config.noise_scale * variation
        model.noise_scale_duration = config.noise_scale_duration * variation
        waves = []
        with seeded(seed):  # VITS draws its noise from torch's global generator
            for sentence in sentences:
                try:
                    encoded = self.tokenizer(sentence, return_tensors="pt")
                except RuntimeError as e:  # phonemizer without the espeak-ng library
                    raise MissingDependency(
                        f"Phonemizing text for this model failed: {e}",
                        "Install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng; macOS: brew install espeak-ng).",
                    ) from e
                if encoded["input_ids"].shape[-1] == 0:
                    continue
                encoded = encoded.to(self.device)
                kwargs = {"speaker_id": speaker} if speaker is not None and speakers > 1 else {}
                waveform = model(**encoded, **kwargs).waveform[0]
                waves.append(waveform.float().cpu().numpy())
        return waves

    def postprocess(self, waves, sentence_silence=0.2, **_) -> dict:
        import numpy as np

        if not waves:
            raise InvalidInput("The model found nothing it can pronounce in the text.", "Use words in the voice's language.")
        gap = np.zeros(int(round(sentence_silence * self.sampling_rate)), dtype=np.float32)
        parts = []
        for index, wave in enumerate(waves):
            if index:
                parts.append(gap)
            parts.append(np.asarray(wave, dtype=np.float32).reshape(-1))
        audio = np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32)
        return {"audio": audio, "sampling_rate": self.sampling_rate}

    @classmethod
    def save(cls, result: Any, path: Path, inputs: dict[str, Any]) -> None:
        """``-o``: a WAV (16-bit PCM); .flac, .ogg and .mp3 suffixes write those formats."""
        from ..media.audio import write_audio

        write_audio(path, result["audio"], result["sampling_rate"])


TASK = TextToSpeech
