"""Refusing a checkpoint that lacks the task's head, before it runs with a random one.

transformers loads gpt2 for text classification, or bert-base for text generation, by building the
task's head around the checkpoint's body and initialising what the checkpoint lacks at random: the
model then answers confidently and wrongly. Two checks stop that:

- before anything is downloaded or loaded, ``check_kind``: the ``model_type`` and the ``architectures``
  a checkpoint's ``config.json`` names against those the task runs (transformers' own auto mappings);
- once the folder is here, before any of its files is read, ``check_folder``: its layout (a Stable
  Diffusion pipeline, DALL·E Mini, a config-less folder) is one the task's loader reads, and a model
  for the sentence-embedding tasks reads text;
- while loading, ``check_loaded``: weights transformers reports as missing from the checkpoint
  (the ones it would initialise randomly).

Either way the error is a ``WrongModelType`` naming the task the model fits, in modeldeck's words
(no library class names).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from functools import cache

from .errors import WrongModelType

# The classes each task runs: transformers' auto mappings (by name) and classes named outright.
TASK_CLASSES: dict[str, tuple[str, ...]] = {
    "text-classification": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",),
    "fill-mask": ("MODEL_FOR_MASKED_LM_MAPPING_NAMES",),
    "question-answering": ("MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",),
    "text-generation": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",),
    "chat": ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
    "summarization": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",),
    "translation": ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",),
    "automatic-speech-recognition": ("MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",),
    "text-to-speech": ("MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES",),
    "zero-shot-audio-classification": ("ClapModel",),
    "object-detection": ("MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES",),
    "mask-generation": ("MODEL_FOR_MASK_GENERATION_MAPPING_NAMES", "SamModel", "SamHQModel"),
    "depth-estimation": ("MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES",),
    "zero-shot-image-classification": ("MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES",),
    "image-to-text": ("BlipForConditionalGeneration", "VisionEncoderDecoderModel",
                      "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"),
    "visual-question-answering": ("BlipForQuestionAnswering",),
    "image-text-matching": ("BlipForImageTextRetrieval",),
    "token-classification": ("MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",),
    "zero-shot-classification": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",),
    "text-ranking": ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",),
    "image-classification": ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",),
    "image-segmentation": ("MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES", "MODEL_FOR_IMAGE_SEGMENTATION_MAPPING_NAMES",
                           "MODEL_FOR_UNIVERSAL_SEGMENTATION_MAPPING_NAMES",
                           "MODEL_FOR_INSTANCE_SEGMENTATION_MAPPING_NAMES"),
    "audio-classification": ("MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES",),
}
# What a model needs to run each task, in words (for the error).
NEEDS = {
    "text-classification": "a classification head: a model fine-tuned to classify text",
    "fill-mask": "a masked-language-model head (BERT-style)",
    "question-answering": "an extractive question-answering head: a model fine-tuned on SQuAD-style data",
    "text-generation": "a causal language model, one that continues text",
    "chat": "a conversational or causal language model",
    "summarization": "an encoder-decoder (sequence-to-sequence) language model",
    "translation": "an encoder-decoder (sequence-to-sequence) language model",
    "automatic-speech-recognition": "a speech-to-text model (Whisper)",
    "text-to-speech": "a text-to-waveform model (VITS)",
    "zero-shot-audio-classification": "a CLAP audio-text model",
    "object-detection": "an object detection head",
    "mask-generation": "a SAM model",
    "depth-estimation": "a depth estimation head",
    "zero-shot-image-classification": "an image-text model like CLIP",
    "image-to-text": "a captioning model",
    "visual-question-answering": "a visual question answering model (BLIP VQA)",
    "image-text-matching": "an image-text matching head (BLIP ITM)",
    "token-classification": "a token classification head: a model fine-tuned to tag words (NER)",
    "zero-shot-classification": "a classification head trained on NLI (entailment), like an MNLI model",
    "text-ranking": "a cross-encoder: a classification head giving one relevance score per (query, text) pair",
    "image-classification": "an image classification head",
    "image-segmentation": "a semantic, instance or panoptic segmentation head",
    "audio-classification": "an audio classification head",
    "feature-extraction": "a text encoder (a sentence-transformers model, or a transformers model that reads text)",
    "sentence-similarity": "a text encoder (a sentence-transformers model, or a transformers model that reads text)",
    "text-to-image": "a Stable Diffusion pipeline (diffusers) or DALL·E Mini",
    "image-to-image": "a Stable Diffusion pipeline (diffusers)",
    "inpainting": "a Stable Diffusion pipeline (diffusers)",
}

# The folder layouts (``layouts.kind``) each task's loader reads; tasks not listed read transformers folders
# (a sentence-transformers folder holds one).
LAYOUTS = {
    "feature-extraction": ("sentence-transformers", "transformers"),
    "sentence-similarity": ("sentence-transformers", "transformers"),
    "automatic-speech-recognition": ("transformers", "sentence-transformers", "ctranslate2"),
    "text-to-speech": ("transformers", "sentence-transformers", "piper"),
    "text-to-image": ("diffusers", "min-dalle"),
    "image-to-image": ("diffusers",),
    "inpainting": ("diffusers",),
}
TRANSFORMERS_LAYOUTS = ("transformers", "sentence-transformers")
# What a folder of each other layout is, in words, and the tasks it runs (diffusers: by model_index.json's class).
LAYOUT_WORDS = {
    "diffusers": "a Stable Diffusion pipeline (diffusers)",
    "min-dalle": "a DALL·E Mini model (min-dalle)",
    "ctranslate2": "a CTranslate2 Whisper model (faster-whisper)",
    "piper": "a Piper voice",
    None: "a folder with no config.json, nor any other model layout modeldeck reads",
}
LAYOUT_TASKS = {"min-dalle": ("text-to-image",), "ctranslate2": ("automatic-speech-recognition",),
                "piper": ("text-to-speech",), None: ()}
PIPELINE_TASKS = {  # diffusers pipeline classes (model_index.json) -> the tasks modeldeck runs them for
    "StableDiffusionPipeline": ("text-to-image", "image-to-image", "inpainting"),
    "StableDiffusionInpaintPipeline": ("inpainting",),
}
PIPELINE_WORDS = {"StableDiffusionInpaintPipeline": "an inpainting model (its UNet takes a mask)"}

# Architecture class (from config.json) -> the tasks it serves. Checked exactly first, then by suffix.
ARCHITECTURES = {
    "BlipForQuestionAnswering": ("visual-question-answering",),
    "BlipForConditionalGeneration": ("image-to-text",),
    "Blip2ForConditionalGeneration": ("image-to-text",),
    "BlipForImageTextRetrieval": ("image-text-matching",),
    "VisionEncoderDecoderModel": ("image-to-text",),
    "WhisperForConditionalGeneration": ("automatic-speech-recognition",),
    "BartForConditionalGeneration": ("summarization",),
    "PegasusForConditionalGeneration": ("summarization",),
    "T5ForConditionalGeneration": ("summarization", "translation"),
    "M2M100ForConditionalGeneration": ("translation",),
    "MarianMTModel": ("translation",),
    "MBartForConditionalGeneration": ("translation",),
    "BlenderbotForConditionalGeneration": ("chat",),
    "BlenderbotSmallForConditionalGeneration": ("chat",),
    "VitsModel": ("text-to-speech",),
    "ClapModel": ("zero-shot-audio-classification",),
    "CLIPModel": ("zero-shot-image-classification",),
    "SiglipModel": ("zero-shot-image-classification",),
    "SamModel": ("mask-generation",),
}
SUFFIXES = {
    "ForMaskedLM": ("fill-mask",),
    "ForSequenceClassification": ("text-classification",),
    "ForQuestionAnswering": ("question-answering",),
    "ForCausalLM": ("text-generation",),
    "LMHeadModel": ("text-generation",),
    "ForSpeechSeq2Seq": ("automatic-speech-recognition",),
    "ForCTC": ("automatic-speech-recognition",),
    "ForObjectDetection": ("object-detection",),
    "ForDepthEstimation": ("depth-estimation",),
    "ForTokenClassification": ("token-classification",),
    "ForImageClassification": ("image-classification",),
    "ForImageClassificationWithTeacher": ("image-classification",),
    "ForAudioClassification": ("audio-classification",),
    "ForSemanticSegmentation": ("image-segmentation",),
    "ForSegmentation": ("image-segmentation",),  # DETR panoptic
    "ForUniversalSegmentation": ("image-segmentation",),
    "ForInstanceSegmentation": ("image-segmentation",),
}


@cache
def accepted(task: str) -> frozenset[str] | None:
    """The architecture class names ``task`` runs, or None when any will do (the task is not listed)."""
    names = TASK_CLASSES.get(task)
    if names is None:
        return None
    from transformers.models.auto import modeling_auto

    found: set[str] = set()
    for name in names:
        mapping = getattr(modeling_auto, name, None) if name.endswith("_MAPPING_NAMES") else None
        if mapping is None:
            found.add(name)
            continue
        for value in mapping.values():
            found.update(value if isinstance(value, (list, tuple)) else (value,))
    return frozenset(found)


def tasks_of_architecture(arch: str) -> tuple[str, ...]:
    """The tasks an architecture class (as config.json names it) is made for: by name, else by suffix."""
    if arch in ARCHITECTURES:
        return ARCHITECTURES[arch]
    return tuple(t for suffix, tasks in SUFFIXES.items() if arch.endswith(suffix) for t in tasks)


def fitting_tasks(architectures: Iterable[str]) -> list[str]:
    """The tasks a checkpoint of these architectures runs, most specific first."""
    found: list[str] = []
    for arch in architectures:
        found += [t for t in tasks_of_architecture(arch) if t not in found]
    for task in TASK_CLASSES:
        if task not in found and set(architectures) & (accepted(task) or set()):
            found.append(task)
    return found


def _architectures(config: dict | None) -> list[str]:
    names = (config or {}).get("architectures") if isinstance(config, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def wrong_type(task: str, model: str, default: str, config: dict | None, why: str,
               fits: Iterable[str] | None = None) -> WrongModelType:
    """The error for ``model`` run as ``task``: what it lacks, what it is for (``fits``, else judged from
    ``config``'s architectures), what to run instead."""
    fits = [t for t in (fitting_tasks(_architectures(config)) if fits is None else fits) if t != task]
    need = NEEDS.get(task, f"a model made for {task}")
    if fits:
        made = f"{model} is made for {fits[0]}"
        hint = (f"Run it as what it is: modeldeck run {fits[0]} ... -m {model}; for {task} use a model made for it "
                f"(default: {default}).")
    else:
        made = f"{model} is not a model {task} can run"
        hint = f"Use a model made for {task} (default: {default}); 'modeldeck tasks' lists the tasks."
    return WrongModelType(f"{made}: {task} needs {need}, {why}.", hint)


def check_kind(spec, model: str, config: dict | None) -> None:
    """Refuse, before any download or load, a model whose kind the task does not run: its ``model_type``
    (``spec.model_types``), then the architectures its ``config`` names against the classes the task runs."""
    kind = (config or {}).get("model_type")
    if spec.model_types and kind is not None and kind not in spec.model_types:
        runs = ", ".join(repr(t) for t in spec.model_types[:4]) + (", ..." if len(spec.model_types) > 4 else "")
        raise wrong_type(spec.name, model, spec.default_model, config,
                         f"and this is a {kind!r} model, not one of the kinds it runs ({runs})")
    check(spec, model, config)


def check_folder(spec, model: str, folder) -> None:
    """Refuse, once ``folder`` is here and before any of its files is read, a layout the task's loader does not
    read (a Stable Diffusion pipeline for fill-mask, a config-less folder), and, for the sentence-embedding
    tasks, a model that does not read text."""
    from pathlib import Path

    from .layouts import kind as layout_of, read_json

    folder = Path(folder)
    layout = layout_of(folder)
    readers = LAYOUTS.get(spec.name, TRANSFORMERS_LAYOUTS)
    pipeline = read_json(folder / "model_index.json") if layout == "diffusers" else None
    pipeline = str(pipeline.get("_class_name") or "") if isinstance(pipeline, dict) else ""
    unet = read_json(folder / "unet" / "config.json") if layout == "diffusers" else None
    if isinstance(unet, dict) and "in_channels" in unet:  # what the loader goes by: a UNet that takes a mask
        pipeline = "StableDiffusionInpaintPipeline" if unet["in_channels"] == 9 else "StableDiffusionPipeline"
    if layout not in readers:
        if layout in TRANSFORMERS_LAYOUTS:
            config = folder_config(folder)
            raise wrong_type(spec.name, model, spec.default_model, config, "and this is a transformers model")
        fits = PIPELINE_TASKS.get(pipeline, ("text-to-image",)) if layout == "diffusers" else LAYOUT_TASKS[layout]
        raise wrong_type(spec.name, model, spec.default_model, None, f"and this is {LAYOUT_WORDS[layout]}", fits)
    if pipeline in PIPELINE_TASKS and spec.name not in PIPELINE_TASKS[pipeline]:
        words = PIPELINE_WORDS.get(pipeline, f"a pipeline for {', '.join(PIPELINE_TASKS[pipeline])} only")
        raise wrong_type(spec.name, model, spec.default_model, None, f"and this is {words}", PIPELINE_TASKS[pipeline])
    if spec.backend == "sentence-transformers" and layout == "transformers":
        config = folder_config(folder)
        if config is not None and not reads_text(config):
            raise wrong_type(spec.name, model, spec.default_model, config, "and this model does not read text "
                             "(it is made for pictures or sound)")


def reads_text(config: dict) -> bool:
    """Whether a checkpoint embeds text: it has a text tower (CLIP, BLIP, CLAP), or is made for a text task;
    one made for no task modeldeck knows (a bare encoder) when it has a vocabulary and no eyes or ears."""
    from .layouts import reads_text as has_vocabulary, sees_or_hears

    if isinstance(config.get("text_config"), dict):
        return True
    fits = fitting_tasks(_architectures(config))
    if fits:
        from .pipelines import registry

        tasks = registry()
        return any(tasks[t].spec.modality == "text" for t in fits if t in tasks)
    return has_vocabulary(config) and not sees_or_hears(config)


def check(spec, model: str, config: dict | None) -> None:
    """Refuse, before loading, a checkpoint whose architectures are none of those ``spec`` runs."""
    names = _architectures(config)
    allowed = accepted(spec.name) if names else None
    if allowed is None or set(names) & allowed:
        return
    raise wrong_type(spec.name, model, spec.default_model, config, "and this checkpoint has none (run anyway, its "
                     "head would be random)")


# The task a load is for (set by the pool around a load), so a load-time refusal can name it.
loading_task: ContextVar[tuple[str, str] | None] = ContextVar("modeldeck_loading_task", default=None)


def check_loaded(model_id: str, path, missing: Iterable[str]) -> None:
    """Refuse a model transformers had to complete with randomly initialised weights (``missing``)."""
    missing = sorted(missing)
    if not missing:
        return
    config = folder_config(path)
    task, default = loading_task.get() or ("this task", "the task's default model")
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    raise wrong_type(task, model_id, default, config, f"and the checkpoint lacks its weights ({shown} would be "
                     "randomly initialised)")


def folder_config(folder) -> dict | None:
    """The config.json of a model folder, or None when it has none (or not an object: integrity names that)."""
    import json
    from pathlib import Path

    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def unrecognised(spec, model: str, config: dict | None) -> WrongModelType:
    """For a checkpoint transformers has no class of this task for (its 'Unrecognized configuration class')."""
    kind = (config or {}).get("model_type") if isinstance(config, dict) else None
    why = f"and transformers has no {spec.name} version of its architecture" + (f" ({kind!r})" if kind else "")
    return wrong_type(spec.name, model, spec.default_model, config, why)
