"""Stable Diffusion-family pipelines through diffusers: loading, schedulers, defaults, memory.

A diffusers model is a folder with ``model_index.json`` and one subfolder per
part (unet, vae, text_encoder, tokenizer, scheduler, safety_checker,
feature_extractor). The pipeline class comes from diffusers' AutoPipeline for
the task, picked from ``model_index.json``: text-to-image, image-to-image, or
inpainting, which takes ordinary 4-channel UNets (the latents outside the
mask are blended back each step) and dedicated 9-channel inpainting UNets
(the mask and masked image are model inputs).

Device and dtype: fp32 on CPU with torch's memory-efficient attention (and VAE tiling above
512x512, set per call), bf16 when asked for on a CPU that computes it natively (see modeldeck.dtypes);
fp16 on CUDA. Weights load from safetensors; a
pickle-only model needs the user's allow-pickle, and diffusers then reads it
with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, ModelNotAvailable, UnsafeModel

# scheduler names users can give -> (diffusers class, extra config)
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpm++-karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "dpm++-sde": ("DPMSolverSinglestepScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "lms": ("LMSDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
}
SCHEDULER_CHOICES = ("default", *SCHEDULERS)

# Few-step checkpoints and their right (steps, guidance scale): distilled models run without
# classifier-free guidance (SD-Turbo) or with it folded into the UNet (LCM).
FEW_STEP = {"turbo": (1, 0.0), "lcm": (4, 8.0), "lightning": (4, 0.0), "hyper": (1, 0.0)}
DEFAULT_STEPS, DEFAULT_GUIDANCE = 50, 7.5
AUTOPIPELINES = {
    "text-to-image": "AutoPipelineForText2Image",
    "image-to-image": "AutoPipelineForImage2Image",
    "inpainting": "AutoPipelineForInpainting",
}
# The parts whose weights a pipeline loads (tokenizer, scheduler, feature_extractor have none).
TILE_ABOVE = 512  # VAE tiling for pictures larger than this on a side (CPU): bounded decoder memory


def is_diffusers(folder: Path) -> bool:
    return (Path(folder) / "model_index.json").is_file()


def model_index(folder: Path) -> dict:
    return json.loads((Path(folder) / "model_index.json").read_text())


def pipeline_dtype(device: str):
    """The load's dtype (see modeldeck.dtypes): fp32 on a CPU unless bf16 was chosen; fp16 on CUDA by default
    (diffusers pipelines are published and tested in fp16 there)."""
    from .. import dtypes

    name = dtypes.current(device)
    if device.startswith("cuda") and not dtypes.chosen() and not os.environ.get("MODELDECK_DTYPE", "").strip():
        name = "fp16"
    dtypes.used(name)
    return dtypes.torch_dtype(name)


def _has_safetensors(folder: Path) -> bool:
    return any(Path(folder).glob("*/*.safetensors"))


def load_pipeline(task: str, folder: Path, device: str, model_id: str):
    """The AutoPipeline for ``task`` from ``folder``, on ``device``, quiet and memory-frugal on CPU."""
    import diffusers

    from . import tune_allocator
    from .transformers import pickle_allowed

    tune_allocator()  # the worker thread's steps would fault in fresh pages otherwise
    folder = Path(folder)
    if not is_diffusers(folder):
        raise ModelNotAvailable(f"{model_id} is not a diffusers pipeline (no model_index.json in {folder}).")
    safetensors = _has_safetensors(folder)
    if not safetensors and not pickle_allowed(folder):
        raise UnsafeModel(
            f"{model_id} has only pickle weights, no safetensors; modeldeck does not load pickle files unless you "
            "allow it for this model.",
            f"If you trust it, allow it: --allow-pickle (or MODELDECK_ALLOW_PICKLE={model_id}). Only tensors are read.",
        )
    if os_debug():
        diffusers.utils.logging.set_verbosity_info()
    else:
        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
    auto = getattr(diffusers, AUTOPIPELINES[task])
    try:
        pipe = auto.from_pretrained(folder, dtype=pipeline_dtype(device), use_safetensors=safetensors)
    except ValueError as e:
        if "AutoPipeline" in str(e) or "does not have" in str(e) or "not supported" in str(e):
            raise InvalidInput(
                f"{model_id} ({model_index(folder).get('_class_name')}) cannot run {task}: {e}",
                "Use a Stable Diffusion-family model (default: CompVis/stable-diffusion-v1-4).",
            ) from e
        raise
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    # No attention slicing: torch's scaled-dot-product attention already keeps attention memory small,
    # and on a CPU slicing made each 512x512 step 1.5x slower with no lower peak (bench/diffusion.py).
    return pipe


def os_debug() -> bool:
    import os

    return os.environ.get("MODELDECK_DEBUG") == "1"


def use_tiling(pipe, device: str, width: int, height: int) -> None:
    """VAE tiling above 512x512 on CPU (decoder memory stays bounded); off otherwise, as the plain pipeline."""
    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "enable_tiling"):
        return
    if not device.startswith("cuda") and max(width, height) > TILE_ABOVE:
        vae.enable_tiling()
    else:
        vae.disable_tiling()


def scheduler_for(base, name: str | None):
    """A fresh scheduler for one call: the model's own kind (``default``) or the named one, on the model's
    scheduler config (``base``: the scheduler the model shipped with)."""
    import diffusers

    if not name or name == "default":
        return type(base).from_config(base.config)
    if name not in SCHEDULERS:
        raise InvalidInput(f"Unknown scheduler {name!r}.", f"Choose one of: {', '.join(SCHEDULER_CHOICES)}.")
    cls_name, extra = SCHEDULERS[name]
    return getattr(diffusers, cls_name).from_config(base.config, **extra)


def few_step_defaults(model_id: str, folder: Path) -> tuple[int, float]:
    """The (steps, guidance) a model is meant to run with: few-step models by their kind, else 50 / 7.5."""
    scheduler = Path(folder) / "scheduler" / "scheduler_config.json"
    try:
        kind = json.loads(scheduler.read_text()).get("_class_name", "") if scheduler.is_file() else ""
    except ValueError:
        kind = ""
    if kind == "LCMScheduler":
        return FEW_STEP["lcm"]
    name = model_id.lower().rsplit("/", 1)[-1]
    for marker, defaults in FEW_STEP.items():
        if marker in name:
            return defaults
    return DEFAULT_STEPS, DEFAULT_GUIDANCE


def default_size(pipe) -> int:
    """The side the UNet was trained at, in pixels (512 for v1.x)."""
    unet = getattr(pipe, "unet", None)
    sample = getattr(getattr(unet, "config", None), "sample_size", None) or 64
    return int(sample) * int(getattr(pipe, "vae_scale_factor", 8))


# -- memory: predicted in modeldeck.memory, which knows every folder layout ----------------------------

from ..memory import predict_pipeline_bytes, working_bytes  # noqa: E402,F401 - re-exported for callers here


