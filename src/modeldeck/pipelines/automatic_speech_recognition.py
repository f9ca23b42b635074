"""automatic-speech-recognition: speech in any common audio format -> text with timestamps.

Two backends, picked from the model folder: CTranslate2 Whisper models
(Systran/faster-whisper-*, the packaged tiny.en) run through faster-whisper;
transformers Whisper models (openai/whisper-*, distil-whisper/*) through the
transformers pipeline. Audio is decoded, down-mixed to mono and resampled to
16 kHz here (media/audio.py), so neither backend resamples.

Long audio: by default Whisper's sequential long-form decoding (30 s windows,
each starting where the last complete segment ended, so words at a seam are
decoded once). With ``batch_size`` > 1 on the transformers backend, 30 s
chunks overlapping by 5 s on each side are decoded in parallel batches and
stitched where their tokens agree (the pipeline's chunked mode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..outputs.transcript import SUBTITLE_FORMATS, subtitles
from ..spec import Input, Param, TaskSpec
from ..task import Step, Task

SAMPLING_RATE = 16_000
FORMATS = ("txt", "srt", "vtt")


class Transcript(dict):
    """``{"text", "chunks": [{"text", "timestamp": [start, end]}]}``.

    A plain dict to callers and to JSON; it also remembers the output format
    asked for (``format``), which the terminal rendering and ``-o`` follow.
    """

    format: str | None = None

    def to(self, fmt: str) -> str:
        """The transcript as ``txt``, ``srt`` or ``vtt`` text."""
        if fmt in SUBTITLE_FORMATS:
            return subtitles(self["chunks"], fmt)
        if fmt == "txt":
            return self["text"] + "\n"
        raise InvalidInput(f"Unknown transcript format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")


def tidy_chunks(chunks: list[dict], duration: float) -> list[dict]:
    """Timestamps inside [0, duration], never going back, each end >= its start; empty chunks dropped.

    Real models already give ordered times; this settles the open end the
    last segment can have (None: the audio ended mid-segment) and keeps
    subtitles valid whatever a model emits.
    """
    kept = [c for c in chunks if c["text"].strip()]
    tidy, previous = [], 0.0
    for index, chunk in enumerate(kept):
        start, end = chunk["timestamp"]
        start = previous if start is None else min(max(float(start), previous), duration)
        if end is None:
            following = next((c["timestamp"][0] for c in kept[index + 1 :] if c["timestamp"][0] is not None), None)
            end = duration if following is None else following
        end = min(max(float(end), start), duration)
        tidy.append({"text": chunk["text"].strip(), "timestamp": [round(start, 3), round(end, 3)]})
        previous = start
    return tidy


class AutomaticSpeechRecognition(Task):
    spec = TaskSpec(
        name="automatic-speech-recognition",
        summary="Transcribe speech in an audio file to text, with timestamps and subtitles (Whisper).",
        default_model="openai/whisper-base",
        offline_default="Systran/faster-whisper-tiny.en",
        inputs=(
            Input("audio", "audio", help="an audio file (wav, flac, mp3, ogg...), its bytes, or (array, sampling_rate)"),
        ),
        output="transcript",
        output_help='{"text", "chunks": [{"text", "timestamp": [start, end]}]}',
        params=(
            Param("timestamps", str, "segment", "timestamp each segment, or each word", choices=("segment", "word")),
            Param("language", str, None, "the spoken language, e.g. en or french (multilingual models; default: detect)"),
            Param("translate", bool, False, "translate the speech into English (multilingual models)"),
            Param(
                "format", str, None, "print / save as plain text, SRT or WebVTT subtitles", choices=FORMATS,
                stage="postprocess",
            ),
            Param(
                "beam_size", int, None, "beam search width (default: 5 with faster-whisper, greedy with transformers)",
                min=1, limit="beams",
            ),
            Param(
                "batch_size", int, 1, "transformers backend: over 1, decode audio over 30 s as overlapping 30 s chunks, "
                "several at once (with other calls' chunks) instead of one window after the other", min=1,
                limit="batch", stage="preprocess",
            ),
            Param("max_new_tokens", int, None, "most tokens decoded per 30 s window", min=1, max=448),
        ),
        aliases=("asr", "speech-recognition", "transcribe"),
        model_types=("whisper",),  # CTranslate2 folders have no model_type and go to faster-whisper
        modality="audio",
        examples=({"audio": "speech.wav"},),
    )

    output_suffixes = (".txt", ".srt", ".vtt", ".json", "")

    @classmethod
    def format_chosen(cls, params) -> bool:
        return params.get("format") is not None

    def load(self) -> None:
        from ..backends.faster_whisper import is_ctranslate2_model, load_whisper

        if is_ctranslate2_model(self.model_path):
            self.backend = "faster-whisper"
            self.model = load_whisper(self.model_path, self.device)
            self.multilingual = self.model.model.is_multilingual
            return
        import json

        from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor, pipeline

        from ..backends.transformers import load_model, load_processor

        config = json.loads((self.model_path / "config.json").read_text()) if (self.model_path / "config.json").exists() else {}
        if config.get("model_type") != "whisper":
            raise InvalidInput(
                f"{self.model_id} is a {config.get('model_type') or 'non-Whisper'} model; this task runs Whisper models.",
                "Use a Whisper model (openai/whisper-*, distil-whisper/*) or a CTranslate2 one (Systran/faster-whisper-*).",
            )
        self.backend = "transformers"
        processor = load_processor(AutoProcessor, self.model_path)
        model = load_model(AutoModelForSpeechSeq2Seq, self.model_path, self.device)
        self.multilingual = bool(getattr(model.generation_config, "is_multilingual", False))
        self.pipe = pipeline(
            "automatic-speech-recognition",
            model=model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
            device=self.device,
        )

    max_batch_size = 8  # 30 s chunks per pass, from any calls (chunked mode)

    def plan(self, inputs, params, emit=None):
        """One pass for the whole clip (Whisper's own long-form decoding, window after window), or, with
        batch_size > 1 on the transformers backend, overlapping 30 s chunks scheduled and batched on
        their own (with other calls' chunks) and stitched where their tokens agree."""
        audio = self.preprocess(inputs, **params)
        if self.backend != "transformers" or params["batch_size"] <= 1 or len(audio) <= 30 * SAMPLING_RATE:
            (result,) = yield Step([("whole", audio)])
            return self.postprocess(result, **params)
        pre, _, post = self.pipe._sanitize_parameters(
            chunk_length_s=30, stride_length_s=5, ignore_warning=True, **self._pipeline_options(**params)
        )
        chunks = [("chunk", c) for c in self.pipe.preprocess({"raw": audio, "sampling_rate": SAMPLING_RATE}, **pre)]
        outputs = yield Step(chunks)
        output = self.pipe.postprocess(outputs, **post)
        result = self._result(output, params.get("language"))
        result["duration"] = len(audio) / SAMPLING_RATE
        return self.postprocess(result, **params)

    def preprocess(self, inputs, **_):
        from ..media.audio import load_audio

        audio, _ = load_audio(inputs["audio"], SAMPLING_RATE)
        return audio

    def batch_key(self, item):
        kind, value = item
        return (kind, object()) if kind == "whole" else (kind, tuple(value["input_features"].shape))

    def forward(self, batch, **params):
        if batch[0][0] == "whole":
            return [self.transcribe(audio, **params) for _, audio in batch]
        import torch

        chunks = [chunk for _, chunk in batch]
        collated = {
            name: torch.cat([c[name] for c in chunks]) if isinstance(chunks[0][name], torch.Tensor) else [c[name] for c in chunks]
            for name in chunks[0]
        }
        _, forward_params, _ = self.pipe._sanitize_parameters(**self._pipeline_options(**params))
        out = self.pipe._forward(collated, **forward_params)
        return [
            {name: value[i : i + 1] if isinstance(value, torch.Tensor) else value[i] if isinstance(value, list) else value
             for name, value in out.items()}
            for i in range(len(chunks))
        ]

    def transcribe(self, audio, timestamps="segment", language=None, translate=False, beam_size=None,
                   max_new_tokens=None):
        """One clip's text and timed chunks, by the model's backend."""
        words = timestamps == "word"
        if self.backend == "faster-whisper":
            from ..backends.faster_whisper import transcribe

            result = transcribe(
                self.model, audio, language=language, translate=translate, word_timestamps=words,
                beam_size=beam_size, max_new_tokens=max_new_tokens,
            )
        else:
            options = self._pipeline_options(timestamps, language, translate, beam_size, max_new_tokens)
            output = self.pipe({"raw": audio, "sampling_rate": SAMPLING_RATE}, **options)
            result = self._result(output, language)
        result["duration"] = len(audio) / SAMPLING_RATE
        return result

    def _pipeline_options(self, timestamps="segment", language=None, translate=False, beam_size=None,
                          max_new_tokens=None, **_) -> dict[str, Any]:
        """The transformers pipeline's options for these parameters."""
        from ..backends.faster_whisper import language_code

        code = language_code(language) if language else None
        if not self.multilingual and (translate or code not in (None, "en")):
            what = "translate" if translate else f"transcribe {language!r}"
            raise InvalidInput(
                f"This model is English-only, so it cannot {what}.",
                "Use a multilingual Whisper model, e.g. --model openai/whisper-base.",
            )
        generate = {}
        if self.multilingual:
            generate["task"] = "translate" if translate else "transcribe"
            if code:
                generate["language"] = code
        if beam_size:
            generate["num_beams"] = beam_size
        if max_new_tokens:
            generate["max_new_tokens"] = max_new_tokens
        return {"return_timestamps": "word" if timestamps == "word" else True, "generate_kwargs": generate}

    @staticmethod
    def _result(output: dict, language: str | None) -> dict:
        from ..backends.faster_whisper import language_code

        chunks = [{"text": c["text"], "timestamp": list(c["timestamp"])} for c in output.get("chunks", [])]
        return {"text": output["text"].strip(), "chunks": chunks, "language": language_code(language) if language else None}

    def postprocess(self, result, format=None, **_) -> Transcript:
        transcript = Transcript(text=result["text"], chunks=tidy_chunks(result["chunks"], result["duration"]))
        transcript.format = format
        return transcript

    @classmethod
    def save(cls, result: Any, path: Path, inputs: dict[str, Any]) -> None:
        """``-o``: the asked format, else the file's suffix (.srt, .vtt, .txt, .json), else plain text."""
        import json

        from ..jsonable import to_jsonable

        suffix = path.suffix.lower().lstrip(".")
        fmt = getattr(result, "format", None) or (suffix if suffix in (*FORMATS, "json") else "txt")
        if fmt == "json":
            path.write_text(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False) + "\n")
        else:
            path.write_text(Transcript(result).to(fmt))


TASK = AutomaticSpeechRecognition
