"""OpenAI audio: transcriptions and translations (speech recognition) and speech (text to speech)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..outputs.transcript import subtitles
from ..pipelines import get_task
from .calls import in_thread
from .config import OPENAI_VOICES
from .errors import ClientError
from .media import decode_inputs
from .openai_common import model_for, refuse_extras
from .openai_models import SpeechRequest
from .respond import notes_header

TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


async def _transcribe(request: Request, translate: bool, file: UploadFile, model: str, language: str | None,
                      prompt: str | None, response_format: str, temperature: float | None,
                      granularities: list[str] | None) -> Response:
    state = request.app.state.modeldeck
    if response_format not in TRANSCRIPT_FORMATS:
        raise ClientError(400, f"response_format must be one of {', '.join(TRANSCRIPT_FORMATS)}, "
                          f"not {response_format!r}.", param="response_format")
    if prompt:
        raise ClientError(400, "prompt is not supported by modeldeck's speech recognition.", param="prompt",
                          hint="Leave it out.", code="unsupported_parameter")
    if temperature:
        raise ClientError(400, "temperature other than 0 is not supported by modeldeck's speech recognition.",
                          param="temperature", hint="Leave it out (decoding is greedy or beam search).",
                          code="unsupported_parameter")
    words = "word" in (granularities or [])
    name = model
    model_id = await anyio.to_thread.run_sync(model_for, state, name, "automatic-speech-recognition")
    data = await file.read()
    params: dict[str, Any] = {"timestamps": "word" if words else "segment"}
    if language:
        params["language"] = language
    if translate:
        params["translate"] = True
    spec = get_task("automatic-speech-recognition").spec

    def run():
        inputs = {"audio": data}
        decode_inputs(spec, inputs, params, False, state.config.max_body_bytes)
        samples, rate = inputs["audio"]
        result = state.models.runner(spec.name, model_id)(inputs, **params)
        return result, len(samples) / float(rate)

    outcome = await in_thread(run)
    result, duration = outcome.result
    headers = notes_header(outcome.notes)
    text = result["text"]
    if response_format == "text":
        return PlainTextResponse(text + "\n", headers=headers)
    if response_format in ("srt", "vtt"):
        return PlainTextResponse(subtitles(result["chunks"], response_format), headers=headers)
    if response_format == "json":
        return JSONResponse({"text": text}, headers=headers)
    chunks = result["chunks"]
    segments = [
        {"id": i, "seek": 0, "start": c["timestamp"][0], "end": c["timestamp"][1], "text": c["text"], "tokens": [],
         "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 1.0, "no_speech_prob": 0.0}
        for i, c in enumerate(chunks)
    ]
    verbose = {"task": "translate" if translate else "transcribe",
               "language": result.get("language") or language or "english", "duration": round(duration, 3),
               "text": text, "segments": [] if words else segments}
    if words:
        verbose["words"] = [{"word": c["text"], "start": c["timestamp"][0], "end": c["timestamp"][1]} for c in chunks]
    return JSONResponse(verbose, headers=headers)


def audio_endpoint(translate: bool):
    async def endpoint(
        request: Request,
        file: UploadFile = File(..., description="the audio file"),  # noqa: B008 - FastAPI's way
        model: str = Form(..., examples=["whisper-1"]),
        language: str | None = Form(None),
        prompt: str | None = Form(None),
        response_format: str = Form("json"),
        temperature: float | None = Form(None),
        timestamp_granularities: list[str] | None = Form(None, alias="timestamp_granularities[]"),  # noqa: B008 - FastAPI's way
    ) -> Response:
        return await _transcribe(request, translate, file, model, language, prompt, response_format, temperature,
                                 timestamp_granularities)

    return endpoint


async def speech(request: Request, body: SpeechRequest) -> Response:
    from ..media.audio import encode

    state = request.app.state.modeldeck
    refuse_extras(body)
    if body.instructions:
        raise ClientError(400, "instructions are not supported by modeldeck's voices.", param="instructions")
    if body.response_format == "aac":
        raise ClientError(400, "response_format aac is not offered here.", param="response_format",
                          hint="Use mp3, opus, flac, wav or pcm.")
    if not isinstance(body.voice, str):
        raise ClientError(400, "Custom voice objects are not supported; name a voice.", param="voice")
    model, speaker = body.model, None
    configured = state.config.voices.get(body.voice)
    if configured:
        model, _, number = configured.partition("#")
        speaker = int(number) if number.isdigit() else None
    model_id = await anyio.to_thread.run_sync(model_for, state, model, "text-to-speech")

    def run():
        runner = state.models.runner("text-to-speech", model_id)
        chosen = speaker if configured else voice_speaker(runner, body.voice)
        params = {"speed": body.speed or 1.0}
        if chosen is not None:
            params["speaker"] = chosen
        result = runner(body.input, **params)
        return encode(result["audio"], result["sampling_rate"], body.response_format or "mp3")

    outcome = await in_thread(run)
    data, content_type = outcome.result
    return Response(data, media_type=content_type, headers=notes_header(outcome.notes))


def speaker_names(runner) -> dict[str, int]:
    """A voice's own speaker names (Piper voices with several speakers)."""
    return runner.info("list_speakers")


def voice_speaker(runner, voice: str) -> int | None:
    """The speaker id for ``voice``: OpenAI names -> the default speaker; a model's own names and numbers."""
    if voice in OPENAI_VOICES:
        return None
    names = speaker_names(runner)
    if voice in names:
        return names[voice]
    if voice.isdigit():
        return int(voice)
    offered = ", ".join([*OPENAI_VOICES, *names]) or ""
    raise ClientError(400, f"No voice {voice!r} here.", param="voice", hint=f"Use one of: {offered}.")
