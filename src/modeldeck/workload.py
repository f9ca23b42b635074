"""The work one request asks for, from each task's cost model, checked against a budget before any work.

Each parameter has its own bound, but their product is what takes the time and the memory: 4096x4096
pictures x 16 at 50 steps are each allowed alone and together ran a laptop out of memory. So a request's
total is checked too, the same way from every interface (Python, CLI, HTTP, UI, Ray), before anything
runs:

- image generation: width x height x pictures x denoising steps (megapixel-steps,
  ``MODELDECK_MAX_IMAGE_WORK``);
- text generation: new tokens x sequences x beams, summed over the request's items
  (``MODELDECK_MAX_TOKEN_WORK``);
- every batched call: its number of items (``MODELDECK_MAX_TEXTS``).

Before a model loads, defaults a model could change are taken at their usual values (512x512, 50
steps); a loaded runner gives its own. Image-to-image and inpainting also check that ``steps x
strength`` runs at least one denoising step.
"""

from __future__ import annotations

import math
from typing import Any

from . import limits
from .errors import InvalidInput

IMAGE_TASKS = ("text-to-image", "image-to-image", "inpainting")
NOMINAL_SIDE, NOMINAL_STEPS, NOMINAL_NEW_TOKENS = 512, 50, 256
MAX_STEPS = 500  # the steps parameter's bound


def denoising_steps(steps: int, strength: float | None) -> int:
    """The denoising steps diffusers runs: all of them, or ``int(steps x strength)`` from a picture."""
    return steps if strength is None else min(int(steps * strength), steps)


def check_strength(steps: int, strength: float) -> None:
    """Refuse steps x strength under one step (diffusers would run none, or fail reshaping nothing)."""
    if denoising_steps(steps, strength) >= 1:
        return
    smallest = math.ceil(1000 / steps) / 1000  # rounded up: int(steps x 1/steps) can fall just short of 1
    while int(steps * smallest) < 1:
        smallest += 0.001
    more = ""
    if strength * MAX_STEPS >= 1:  # some number of steps (within their bound) runs one at this strength
        needed = math.ceil(1 / strength)
        while int(needed * strength) < 1:
            needed += 1
        more = f", or at least {needed} steps at strength {strength:g}"
    raise InvalidInput(
        f"strength {strength:g} at {steps} steps runs no denoising step (steps x strength is "
        f"{steps * strength:.3g}; it must be at least 1).",
        f"Use strength {min(smallest, 1):g} or more at {steps} steps{more}.", param="strength",  # its hint's first fix
    )


def _image_work(task, bound: dict, params: dict, runner) -> float:
    if getattr(runner, "backend", None) == "min-dalle" or params.get("grid_size") is not None:
        return 0.0  # DALL·E Mini: at most 4x4 pictures of 256x256, bounded by grid_size itself
    width, height = params.get("width"), params.get("height")
    size = getattr(bound.get("image"), "size", None)  # a picture to start from sets the size when none is asked
    size = size if isinstance(size, tuple) and len(size) == 2 else None  # a decoded picture's (w, h), not an array's
    if (width is None or height is None) and bound.get("image") is not None and size is None:
        return 0.0  # not decoded yet: checked again once it is (runner.run_calls, after validate)
    if (width is None or height is None) and size:
        w, h = size
        width, height = (w, h) if width is None and height is None else \
            (width or round(w * height / h), height or round(h * width / w))
    elif width is None or height is None:
        loaded = runner is not None and getattr(runner, "pipe", None) is not None
        width, height = runner.size_for(params) if loaded else (width or NOMINAL_SIDE, height or NOMINAL_SIDE)
    steps = params.get("steps") or getattr(runner, "default_steps", None) or NOMINAL_STEPS
    strength = params.get("strength") if task.spec.name != "text-to-image" else None
    if strength is not None and (params.get("steps") or runner is not None):  # else the model's own steps decide
        check_strength(steps, strength)
    run = denoising_steps(steps, strength)
    return width * height * (params.get("num_images") or 1) * run / 1e6


def _token_work(task, params: dict) -> float:
    names = {p.name for p in task.spec.params}
    if "max_new_tokens" not in names and "max_length" not in names:
        return 0.0
    tokens = params.get("max_new_tokens") or params.get("max_length") or NOMINAL_NEW_TOKENS
    return tokens * (params.get("num_return_sequences") or 1) * (params.get("num_beams") or 1)


def check(task: Any, calls: list[tuple[dict, dict]]) -> None:
    """Refuse a request (``calls``: each item's bound inputs and parameters) over its work budget.

    ``task`` is a task class (before loading: usual defaults) or a loaded runner (its own defaults).
    """
    runner = None if isinstance(task, type) else task
    if len(calls) > 1:
        limits.check("texts", len(calls), "The number of items in the request")
    name = task.spec.name
    if name in IMAGE_TASKS:
        work = sum(_image_work(task, bound, params, runner) for bound, params in calls)
        limits.check("image_work", round(work, 1), "The work of this request (width x height x pictures x steps, "
                                                  "in megapixel-steps)")
    elif name != "automatic-speech-recognition":  # speech: bounded by its seconds of audio
        work = sum(_token_work(task, params) for _, params in calls)
        limits.check("token_work", work, "The work of this request (new tokens x sequences x beams x items)")
