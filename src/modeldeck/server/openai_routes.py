"""OpenAI routes: models, and each family's routes when its tasks are served (chat and text completions,
embeddings, audio, images: one module each)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..pipelines import get_task, registry
from .models import OPENAI_ALIASES
from .openai_audio import audio_endpoint, speech
from .openai_common import ERRORS
from .openai_embeddings import embeddings
from .openai_images import image_edits, image_generations
from .openai_models import ChatRequest
from .openai_text import chat_completions, completions


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
        app.add_api_route("/v1/audio/transcriptions", audio_endpoint(False), methods=["POST"], tags=tags,
                          responses=r, summary="Transcribe audio")
        app.add_api_route("/v1/audio/translations", audio_endpoint(True), methods=["POST"], tags=tags,
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
