"""OpenAI images: generations (text-to-image) and edits (image-to-image; with a mask, inpainting), with
modeldeck's own settings (steps, guidance, negative prompt, seed) and OpenAI's quality as steps."""

from __future__ import annotations

import base64
import time
from typing import Any

import anyio.to_thread
from fastapi import File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ..errors import about
from ..jsonable import png_bytes
from ..pipelines import get_task, registry
from .calls import in_thread
from .errors import ClientError
from .media import decode_inputs
from .models import OPENAI_ALIASES
from .openai_common import model_for, refuse_extras
from .openai_models import ImageRequest
from .respond import notes_header


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
            with about(name):  # NaN and out-of-range: modeldeck's 400, naming the field
                params[name] = spec.param(name).coerce(value)
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
        with about("strength"):  # NaN, out of range: a 400 naming it
            params["strength"] = get_task(task).spec.param("strength").coerce(strength)
    state = request.app.state.modeldeck
    chosen = None if model in OPENAI_ALIASES else model
    params.update(await anyio.to_thread.run_sync(lambda: image_settings(
        state, task, chosen, steps, guidance_scale, negative_prompt, seed, quality)))
    if not state.config.serves(task) or task not in registry():
        raise ClientError(400, f"This server does not run {task}.", param="mask" if mask is not None else "image")
    return await _images(request, task, model, inputs, params, response_format)
