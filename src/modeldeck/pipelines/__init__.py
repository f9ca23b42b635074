"""The task registry: one module per task, each exposing ``TASK`` (a Task subclass).

(Named like transformers' ``pipelines/``; a ``tasks`` package would shadow
the public ``modeldeck.tasks()``.)

Adding a task is one module here and one line in ``TASK_MODULES``; the CLI,
the UI and the schemas pick it up from its spec. Task modules import torch
only inside methods, so listing tasks stays instant.
"""

from __future__ import annotations

import importlib
from functools import cache

from ..errors import UnknownTask, did_you_mean
from ..spec import TaskSpec

TASK_MODULES = (
    # text: encoders
    "feature_extraction",
    "sentence_similarity",
    "text_classification",
    "fill_mask",
    "token_classification",
    "zero_shot_classification",
    "text_ranking",
    # text: generative and span models
    "chat",
    "translation",
    "summarization",
    "text_generation",
    "question_answering",
    # speech
    "automatic_speech_recognition",
    "text_to_speech",
    "zero_shot_audio_classification",
    "audio_classification",
    # vision and vision-language
    "image_classification",
    "object_detection",
    "image_segmentation",
    "mask_generation",
    "depth_estimation",
    "zero_shot_image_classification",
    "image_to_text",
    "visual_question_answering",
    "image_text_matching",
    # image generation
    "text_to_image",
    "image_to_image",
    "inpainting",
)


@cache
def registry() -> dict[str, type]:
    """Task name -> Task class, in table order."""
    found = {}
    for module in TASK_MODULES:
        task = importlib.import_module(f"{__name__}.{module}").TASK
        found[task.spec.name] = task
    return found


@cache
def aliases() -> dict[str, str]:
    return {alias: name for name, task in registry().items() for alias in task.spec.aliases}


def canonical_name(name: str) -> str:
    """The registered name for ``name`` or one of its aliases."""
    if not isinstance(name, str):
        raise UnknownTask(
            f"A task is named by text, like 'fill-mask', not by {type(name).__name__}.",
            "Run 'modeldeck tasks' (Python: modeldeck.tasks()) to see them all.",
        )
    tasks = registry()
    if name in tasks:
        return name
    if name in aliases():
        return aliases()[name]
    names = [*tasks, *aliases()]
    raise UnknownTask(
        f"Unknown task {name!r}.",
        did_you_mean(name, names) or "Run 'modeldeck tasks' to see them all.",
    )


def get_task(name: str) -> type:
    return registry()[canonical_name(name)]


def specs() -> list[TaskSpec]:
    return [task.spec for task in registry().values()]
