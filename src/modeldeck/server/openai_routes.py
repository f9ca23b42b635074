"""OpenAI routes: models, chat and text completions, embeddings, audio, and images when those tasks exist."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..pipelines import get_task, registry
from .calls import in_thread, stream_in_thread
from .config import OPENAI_VOICES
from .errors import COMMON, ClientError, as_client_error, error_responses
from .media import decode_inputs
from .models import OPENAI_ALIASES
from .openai_models import ChatRequest, CompletionRequest, EmbeddingRequest, ImageRequest, Open, SpeechRequest
from .respond import notes_header, png_bytes
from .text import StopScan, cut_at_stop

NOOPS = {"user", "store", "metadata", "service_tier", "parallel_tool_calls", "logprobs", "frequency_penalty",
         "presence_penalty", "top_logprobs", "logit_bias", "modalities", "reasoning_effort"}
ERRORS = error_responses("openai", *COMMON, 501, 507)


def refuse_extras(body: Open) -> None:
    """Refuse, by name, fields this server does not honour (unless they are off or a no-op)."""
    for name, value in (body.model_extra or {}).items():
        if value in (None, False, 0, "", [], {}) or (name in NOOPS and not value):
            continue
        if name in NOOPS and name in ("user", "store", "metadata", "service_tier", "parallel_tool_calls"):
            continue
        raise ClientError(400, f"{name} is not supported by this server.", param=name,
                          hint="Leave it out.", code="unsupported_parameter")


def model_for(state, name: str, task: str) -> str | None:
    """The model to load for ``task``: None (the task's default) for OpenAI's own names."""
    if name in OPENAI_ALIASES:
        if OPENAI_ALIASES[name] != task:
            raise ClientError(400, f"{name} is a model for {OPENAI_ALIASES[name]}, not {task}.", param="model")
        return None
    if task == "chat":
        from ..catalog import has_chat_template
        from ..pipelines.chat import INSTRUCT_MODEL

        tasks = state.models.tasks_for(name)
        if "chat" in tasks or ("text-generation" in tasks and has_chat_template(state.models.folder(name))):
            return name
        raise ClientError(400, f"Model {name} is not a chat model (it serves: {', '.join(tasks) or 'nothing here'}).",
                          param="model", hint=f"Use a chat model, e.g. {INSTRUCT_MODEL} or {get_task('chat').spec.default_model} "
                          "(GET /v1/models lists the chat models here).", code="wrong_task")
    state.models.require(name, task)
    return name


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _stream_error(error: Exception) -> str:
    """The event that reports a failure inside a stream whose headers are already sent."""
    known = as_client_error(error)
    return _sse({"error": {"message": known.message if known else "The server failed.",
                           "type": "server_error" if known is None else "invalid_request_error"}})


def _sse(data: Any) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def _stops(stop) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > 4 or not all(stops):
        raise ClientError(400, "stop takes up to 4 non-empty sequences.", param="stop")
    return stops


def _decoding(body, max_new_tokens: int | None) -> dict[str, Any]:
    """OpenAI sampling fields as task parameters (temperature 0: greedy)."""
    params: dict[str, Any] = {}
    if max_new_tokens is not None:
        params["max_new_tokens"] = max_new_tokens
    if body.temperature is not None:
        if body.temperature < 0.01:  # OpenAI's 0 (and what rounds to it: 1e-300) is greedy decoding
            params["do_sample"] = False
        else:
            params["temperature"] = body.temperature
    if body.top_p is not None and body.top_p < 1:
        params["top_p"] = body.top_p
    if body.seed is not None:
        params["seed"] = body.seed
    return params


def _finish(tokens: int, limit: int | None, stopped: bool) -> str:
    return "length" if not stopped and limit is not None and tokens >= limit else "stop"


# -- chat ------------------------------------------------------------------------------------------


def turns_of(messages) -> list[dict[str, str]]:
    turns = []
    for i, message in enumerate(messages):
        content = message.content
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.type != "text" or part.text is None:
                    raise ClientError(400, f"messages[{i}] has a {part.type!r} part; this server takes text only.",
                                      param=f"messages[{i}].content")
                parts.append(part.text)
            content = "".join(parts)
        role = "system" if message.role == "developer" else message.role
        turns.append({"role": role, "content": content or ""})
    return turns


async def chat_completions(request: Request, body: ChatRequest, model_name: str | None = None) -> Response:
    state = request.app.state.modeldeck
    refuse_extras(body)
    name = model_name or body.model
    model = await anyio.to_thread.run_sync(model_for, state, name, "chat")
    turns = turns_of(body.messages)
    limit = body.max_completion_tokens or body.max_tokens
    params = _decoding(body, limit)
    stops, n = _stops(body.stop), body.n or 1
    if body.stream:
        if n > 1:
            raise ClientError(400, "n > 1 cannot stream here.", param="n")
        return await _chat_stream(state, name, model, turns, params, stops, limit, body)

    def run():
        runner = state.models.runner("chat", model)
        choices, used = [], 0
        for i in range(n):
            each = dict(params, seed=params["seed"] + i) if "seed" in params and n > 1 else params
            text = runner(turns, **each)["content"]
            tokens = runner.count_tokens(text)
            text, stopped = cut_at_stop(text, stops)
            used += tokens
            choices.append({"index": i, "message": {"role": "assistant", "content": text},
                            "finish_reason": _finish(tokens, limit, stopped), "logprobs": None})
        asked = runner.count_tokens(turns, special=True)
        return choices, {"prompt_tokens": asked, "completion_tokens": used, "total_tokens": asked + used}

    outcome = await in_thread(run)
    choices, usage = outcome.result
    return JSONResponse({"id": _id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                         "model": name, "choices": choices, "usage": usage}, headers=notes_header(outcome.notes))


async def _chat_stream(state, name, model, turns, params, stops, limit, body) -> StreamingResponse:
    runner = (await in_thread(lambda: state.models.runner("chat", model))).result
    # bad input, bad parameters or a full queue: a 4xx/503 now, before anything is sent
    made = await in_thread(lambda: runner.stream(turns, **params))
    stream = made.result
    ident, created = _id("chatcmpl"), int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
        return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    async def events():
        yield _sse(chunk({"role": "assistant", "content": ""}))
        scan, text, notes = StopScan(stops), "", list(made.notes)
        try:
            async for piece in scan.run(stream_in_thread(lambda: stream, notes)):
                text += piece
                yield _sse(chunk({"content": piece}))
        except Exception as error:  # noqa: BLE001 - headers are sent: report it in the stream
            yield _stream_error(error)
            yield _sse("[DONE]")
            return
        tokens = await anyio.to_thread.run_sync(runner.count_tokens, text)
        yield _sse(chunk({}, _finish(tokens, limit, scan.stopped), **_warnings(notes)))
        if body.stream_options is not None and body.stream_options.include_usage:
            asked = await anyio.to_thread.run_sync(runner.count_tokens, turns, True)
            usage = {"prompt_tokens": asked, "completion_tokens": tokens, "total_tokens": asked + tokens}
            yield _sse({"id": ident, "object": "chat.completion.chunk", "created": created, "model": name,
                        "choices": [], "usage": usage})
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream")


def _warnings(notes: list[str]) -> dict:
    """The stream's notices for its last chunk (a stream has no headers left to carry them)."""
    return {"warnings": list(dict.fromkeys(notes))} if notes else {}


# -- completions -----------------------------------------------------------------------------------


async def completions(request: Request, body: CompletionRequest) -> Response:
    state = request.app.state.modeldeck
    refuse_extras(body)
    model = await anyio.to_thread.run_sync(model_for, state, body.model, "text-generation")
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if not prompts:
        raise ClientError(400, "prompt is empty.", param="prompt")
    limit = body.max_tokens or 16  # OpenAI's default
    params = {**_decoding(body, limit), "return_full_text": bool(body.echo)}
    stops, n = _stops(body.stop), body.n or 1
    from ..workload import check as check_work

    task = get_task("text-generation")  # every prompt x n is one call: the request's work, checked before any
    check_work(task, [task.spec.bind(prompt, params) for prompt in prompts for _ in range(n)])
    if body.stream:
        if n > 1 or len(prompts) > 1:
            raise ClientError(400, "Streaming takes one prompt and n = 1 here.", param="n" if n > 1 else "prompt")
        return await _completion_stream(state, body.model, model, prompts[0], params, stops, limit)

    def run():
        runner = state.models.runner("text-generation", model)
        choices, used, asked = [], 0, 0
        for prompt in prompts:
            asked += runner.count_tokens(prompt, special=True)
            for i in range(n):
                each = dict(params, seed=params["seed"] + i) if "seed" in params and n > 1 else params
                text = runner(prompt, **each)[0]["generated_text"]
                tokens = runner.count_tokens(text[len(prompt):] if body.echo else text)
                text, stopped = cut_at_stop(text, stops)
                used += tokens
                choices.append({"text": text, "index": len(choices), "logprobs": None,
                                "finish_reason": _finish(tokens, limit, stopped)})
        return choices, {"prompt_tokens": asked, "completion_tokens": used, "total_tokens": asked + used}

    outcome = await in_thread(run)
    choices, usage = outcome.result
    return JSONResponse({"id": _id("cmpl"), "object": "text_completion", "created": int(time.time()),
                         "model": body.model, "choices": choices, "usage": usage}, headers=notes_header(outcome.notes))


async def _completion_stream(state, name, model, prompt, params, stops, limit) -> StreamingResponse:
    runner = (await in_thread(lambda: state.models.runner("text-generation", model))).result
    made = await in_thread(lambda: runner.stream(prompt, **params))  # refusals before the 200
    stream = made.result
    ident, created = _id("cmpl"), int(time.time())

    def chunk(text: str, finish: str | None = None, **extra) -> dict:
        return {"id": ident, "object": "text_completion", "created": created, "model": name,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}], **extra}

    async def events():
        scan, text, notes = StopScan(stops), "", list(made.notes)
        try:
            async for piece in scan.run(stream_in_thread(lambda: stream, notes)):
                text += piece
                yield _sse(chunk(piece))
        except Exception as error:  # noqa: BLE001
            yield _stream_error(error)
            yield _sse("[DONE]")
            return
        tokens = await anyio.to_thread.run_sync(runner.count_tokens, text)
        yield _sse(chunk("", _finish(tokens, limit, scan.stopped), **_warnings(notes)))
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream")


# -- embeddings ------------------------------------------------------------------------------------


async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
    import numpy as np
    import orjson

    state = request.app.state.modeldeck
    refuse_extras(body)
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise ClientError(400, "input is empty: give a text or a list of texts.", param="input")

    def run():  # one trip to a worker thread: which model, the call, and the token count
        runner = state.models.runner("feature-extraction", model_for(state, body.model, "feature-extraction"))
        vectors = runner({"texts": texts}, normalize=True)
        return np.asarray(vectors, dtype="<f4"), runner.count_tokens(texts)

    outcome = await in_thread(run)
    vectors, tokens = outcome.result
    size = vectors.shape[1]
    if body.dimensions is not None and body.dimensions != size:
        raise ClientError(400, f"{body.model} makes {size}-dimension vectors; dimensions={body.dimensions} is "
                          "not offered (cutting vectors short would change their meaning).", param="dimensions",
                          hint=f"Leave dimensions out, or set it to {size}.")
    base64_out = body.encoding_format == "base64"
    data = [{"object": "embedding", "index": i,
             "embedding": base64.b64encode(vector.tobytes()).decode() if base64_out else vector}
            for i, vector in enumerate(vectors)]
    # the float32 vectors written once, straight from the array (their shortest float32 text)
    content = orjson.dumps({"object": "list", "data": data, "model": body.model,
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                           option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, media_type="application/json", headers=notes_header(outcome.notes))


# -- audio -----------------------------------------------------------------------------------------

TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


async def _transcribe(request: Request, translate: bool, file: UploadFile, model: str, language: str | None,
                      prompt: str | None, response_format: str, temperature: float | None,
                      granularities: list[str] | None) -> Response:
    from ..pipelines.automatic_speech_recognition import srt, vtt

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
        return PlainTextResponse((srt if response_format == "srt" else vtt)(result["chunks"]), headers=headers)
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


def _audio_endpoint(translate: bool):
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
    from .audio_out import encode

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


# -- images ----------------------------------------------------------------------------------------


def _size(size: str | None) -> dict[str, int]:
    if not size or size == "auto":
        return {}
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ClientError(400, f"size must be WIDTHxHEIGHT, like 512x512, not {size!r}.", param="size")
    return {"width": int(width), "height": int(height)}


async def _images(request: Request, task: str, model: str | None, inputs: dict, params: dict,
                  response_format: str | None) -> Response:
    state = request.app.state.modeldeck
    if response_format == "url":
        raise ClientError(400, "response_format url is not offered: this server hosts no files.",
                          param="response_format", hint="Use b64_json.")
    model_id = await anyio.to_thread.run_sync(model_for, state, model, task) if model else None
    spec = get_task(task).spec

    def run():
        decode_inputs(spec, inputs, params, False, state.config.max_body_bytes)
        return state.models.runner(task, model_id)(inputs, **params)

    outcome = await in_thread(run)
    if model in OPENAI_ALIASES:  # never silently: say which local model answered an OpenAI name
        outcome.notes.insert(0, f"{model} is answered by this server's {task} model, "
                                f"{outcome.result['parameters'].get('model', spec.default_model)}.")
    data = [{"b64_json": base64.b64encode(png_bytes(image)).decode(), "revised_prompt": None}
            for image in outcome.result["images"]]
    return JSONResponse({"created": int(time.time()), "data": data}, headers=notes_header(outcome.notes))


# OpenAI's quality names as a share of the model's own denoising steps (50 for Stable Diffusion v1.x: low 20,
# high and hd 75). Few-step models (SD-Turbo, LCM: 1-4 steps) are distilled for their steps and keep them.
QUALITY = {"low": 0.4, "medium": 1.0, "standard": 1.0, "auto": 1.0, "high": 1.5, "hd": 1.5}
FEW_STEPS = 4


def quality_steps(state, task: str, model: str | None, quality: str) -> int | None:
    """The denoising steps for an OpenAI ``quality`` (None: the model's own)."""
    from ..backends.diffusers import few_step_defaults

    if quality not in QUALITY:
        raise ClientError(400, f"quality must be one of {', '.join(QUALITY)}, not {quality!r}.", param="quality")
    spec = get_task(task).spec
    name = model or spec.default_model
    folder = state.models.folder(name)
    if folder is None and not model and spec.offline_default:
        name, folder = spec.offline_default, state.models.folder(spec.offline_default)
    own, _ = few_step_defaults(name, folder) if folder is not None else (50, None)
    if own <= FEW_STEPS or QUALITY[quality] == 1.0:
        return None
    return max(1, round(own * QUALITY[quality]))


def image_settings(state, task: str, model: str | None, steps, guidance_scale, negative_prompt, seed,
                   quality) -> dict[str, Any]:
    """The task parameters for the image routes' modeldeck settings, each checked as the task checks it."""
    spec = get_task(task).spec
    params: dict[str, Any] = {}
    if steps is None and quality:
        steps = quality_steps(state, task, model, quality)
    for name, value in (("steps", steps), ("guidance_scale", guidance_scale), ("negative_prompt", negative_prompt),
                        ("seed", seed)):
        if value is not None and value != "":
            params[name] = spec.param(name).coerce(value)  # NaN and out-of-range: modeldeck's 400
    return params


async def image_generations(request: Request, body: ImageRequest) -> Response:
    refuse_extras(body)
    state = request.app.state.modeldeck
    model = None if body.model in OPENAI_ALIASES else body.model
    settings = await anyio.to_thread.run_sync(lambda: image_settings(
        state, "text-to-image", model, body.steps, body.guidance_scale, body.negative_prompt, body.seed, body.quality))
    params = {"num_images": body.n or 1, **_size(body.size), **settings}
    return await _images(request, "text-to-image", body.model, {"prompt": body.prompt}, params, body.response_format)


EDIT_FIELDS = {"image", "prompt", "mask", "model", "n", "size", "response_format", "strength", "seed", "user", "steps",
               "guidance_scale", "negative_prompt", "quality"}


async def image_edits(
    request: Request,
    image: UploadFile = File(...),  # noqa: B008 - FastAPI's way
    prompt: str = Form(..., min_length=1),
    mask: UploadFile | None = File(None),  # noqa: B008 - FastAPI's way
    model: str | None = Form(None),
    n: int = Form(1, ge=1, le=10),
    size: str | None = Form(None),
    response_format: str | None = Form("b64_json"),
    strength: float | None = Form(None, description="how much to change the picture (0 excluded to 1)"),
    seed: int | None = Form(None, ge=0),
    steps: int | None = Form(None, description="denoising steps (default: the model's own; quality sets them too)"),
    guidance_scale: float | None = Form(None, description="how closely to follow the prompt"),
    negative_prompt: str | None = Form(None, description="what the picture should not show"),
    quality: str | None = Form(None, description="low, medium, high, auto, standard or hd: steps relative to the "
                                                 "model's own"),
) -> Response:
    form = await request.form()  # fields not declared here are refused by name, as /generations does
    for name in form:
        if name not in EDIT_FIELDS and form.get(name) not in (None, ""):
            raise ClientError(400, f"{name} is not supported by this server.", param=name, hint="Leave it out.",
                              code="unsupported_parameter")
    inputs: dict[str, Any] = {"image": await image.read(), "prompt": prompt}
    task = "image-to-image"
    if mask is not None:
        inputs["mask"], task = await mask.read(), "inpainting"
    params = {"num_images": n, **_size(size)}
    if strength is not None:
        params["strength"] = get_task(task).spec.param("strength").coerce(strength)  # NaN, out of range: a 400
    state = request.app.state.modeldeck
    chosen = None if model in OPENAI_ALIASES else model
    params.update(await anyio.to_thread.run_sync(lambda: image_settings(
        state, task, chosen, steps, guidance_scale, negative_prompt, seed, quality)))
    if not state.config.serves(task) or task not in registry():
        raise ClientError(400, f"This server does not run {task}.", param="mask" if mask is not None else "image")
    return await _images(request, task, model, inputs, params, response_format)


# -- models ----------------------------------------------------------------------------------------


async def list_models(request: Request) -> JSONResponse:
    state = request.app.state.modeldeck

    def scan():
        from ..catalog import list_models as local

        rows, seen = [], set()
        for entry in local():  # a model both cached and packaged is listed once
            tasks = [t for t in entry.tasks if state.config.serves(t)]
            if tasks and entry.id not in seen and entry.status != "broken":  # a broken copy cannot answer
                seen.add(entry.id)
                rows.append({"id": entry.id, "object": "model", "created": 0, "owned_by": "modeldeck", "tasks": tasks})
        present: dict[str, bool] = {}
        for alias, task in OPENAI_ALIASES.items():
            if task not in present:  # an OpenAI name answers only when its task's model is here to answer it
                spec = get_task(task).spec if state.config.serves(task) and task in registry() else None
                present[task] = spec is not None and any(
                    state.models.folder(m) is not None for m in (spec.default_model, spec.offline_default) if m)
            if present[task]:
                rows.append({"id": alias, "object": "model", "created": 0, "owned_by": "modeldeck", "tasks": [task],
                             "default_for": task})
        return rows

    return JSONResponse({"object": "list", "data": await anyio.to_thread.run_sync(scan)})


def add_routes(app: FastAPI, config) -> None:
    """The OpenAI routes whose tasks this server runs."""
    serves = lambda task: config.serves(task) and task in registry()
    tags, r = ["OpenAI"], ERRORS
    app.add_api_route("/v1/models", list_models, methods=["GET"], tags=tags, summary="Models served")
    if serves("chat"):
        app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"], tags=tags, responses=r,
                          summary="Chat completion (stream: server-sent events)")

        async def model_chat(model_id: str, request: Request, body: ChatRequest) -> Response:
            return await chat_completions(request, body, model_id)

        app.add_api_route("/models/{model_id:path}/v1/chat/completions", model_chat, methods=["POST"], responses=r,
                          tags=["Hugging Face tasks"], summary="Chat completion on a model (InferenceClient's URL)")
    if serves("text-generation"):
        app.add_api_route("/v1/completions", completions, methods=["POST"], tags=tags, responses=r,
                          summary="Text completion")
    if serves("feature-extraction"):
        app.add_api_route("/v1/embeddings", embeddings, methods=["POST"], tags=tags, responses=r, summary="Embeddings")
    if serves("automatic-speech-recognition"):
        app.add_api_route("/v1/audio/transcriptions", _audio_endpoint(False), methods=["POST"], tags=tags,
                          responses=r, summary="Transcribe audio")
        app.add_api_route("/v1/audio/translations", _audio_endpoint(True), methods=["POST"], tags=tags,
                          responses=r, summary="Translate speech into English text")
    if serves("text-to-speech"):
        app.add_api_route("/v1/audio/speech", speech, methods=["POST"], tags=tags, summary="Text to speech",
                          response_class=Response, responses={
                              200: {"description": "the audio file", "content": {
                                  t: {"schema": {"type": "string", "format": "binary"}}
                                  for t in ("audio/mpeg", "audio/wav", "audio/flac", "audio/ogg", "audio/pcm")}},
                              **r})
    if serves("text-to-image"):
        app.add_api_route("/v1/images/generations", image_generations, methods=["POST"], tags=tags, responses=r,
                          summary="Generate images")
    if serves("image-to-image") or serves("inpainting"):
        app.add_api_route("/v1/images/edits", image_edits, methods=["POST"], tags=tags, responses=r,
                          summary="Edit an image (with a mask: inpainting)")
