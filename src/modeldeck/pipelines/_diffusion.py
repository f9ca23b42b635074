"""What the image generation tasks share: parameters, checks, the diffusers call, results and PNG files.
(A helper module, not a task.)

A result is ``{"images": [PIL images], "nsfw": [bool per image], "seed": int, "parameters": {...}}``:
``parameters`` holds the model, the prompt and every setting used (the seed drawn when none was given),
so an image can be made again; ``-o out.png`` writes them into each PNG's text metadata.
"""

from __future__ import annotations

import inspect
import json
import secrets
from pathlib import Path
from typing import Any

from ..backends.diffusers import SCHEDULER_CHOICES
from ..errors import InvalidInput
from ..notices import notice, progress
from ..outputs.shapes import PNG
from ..spec import Param
from ..task import Task

MULTIPLE = 8  # Stable Diffusion's VAE works in 8x8 pixel cells
MAX_SIDE = 4096
MAX_SEED = 2**32 - 1

PROMPT_PARAMS = (
    Param("negative_prompt", str, None, "what the picture should not show", stage="forward"),
    Param("steps", int, None, "denoising steps (default: the model's; 50 for v1.4, 1-4 for few-step models)",
          min=1, max=500, stage="forward"),
    Param("guidance_scale", float, None, "how closely to follow the prompt (default: the model's; 7.5 for v1.4, "
          "0 for SD-Turbo); 0 or 1 turns classifier-free guidance off", min=0, max=50, stage="forward"),
)
SIZE_PARAMS = (
    Param("width", int, None, "picture width in pixels, a multiple of 8 (default: the model's, 512 for v1.4)",
          min=MULTIPLE, max=MAX_SIDE, stage="forward"),
    Param("height", int, None, "picture height in pixels, a multiple of 8 (default: the model's)",
          min=MULTIPLE, max=MAX_SIDE, stage="forward"),
)
COMMON_PARAMS = (
    Param("seed", int, None, "the same seed gives the same picture on the same device (default: a random one, "
          "reported in the result)", min=0, max=MAX_SEED, stage="preprocess"),
    Param("num_images", int, 1, "how many pictures to make", min=1, max=16, stage="forward"),
    Param("scheduler", str, "default", "the sampler: the model's own (default), or one by name",
          choices=SCHEDULER_CHOICES, stage="forward"),
    Param("safety_checker", bool, True, "run the model's safety checker (flagged pictures are blacked out and "
          "reported); --no-safety-checker turns it off", stage="forward"),
)
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "images": {"type": "array", "items": PNG, "minItems": 1},
        "nsfw": {"type": "array", "items": {"type": "boolean"}},
        "seed": {"type": "integer", "minimum": 0},
        "parameters": {"type": "object"},
    },
    "required": ["images", "nsfw", "seed", "parameters"],
}
PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


class DiffusionTask(Task):
    """A Stable Diffusion-family task on diffusers; one generation per forward pass."""

    max_batch_size = 1
    output_suffixes = (*sorted(PICTURE_SUFFIXES), ".json", "")
    pipeline_task = "text-to-image"  # which AutoPipeline

    def load(self) -> None:
        from ..backends.diffusers import few_step_defaults, load_pipeline

        self.backend = "diffusers"
        self.pipe = load_pipeline(self.pipeline_task, self.model_path, self.device, self.model_id)
        self.model_scheduler = self.pipe.scheduler  # each call gets a fresh scheduler made from this one
        self.default_steps, self.default_guidance = few_step_defaults(self.model_id, self.model_path)
        self.channels = int(getattr(getattr(self.pipe, "unet", None), "config", {}).in_channels) if hasattr(
            self.pipe, "unet") else 4
        self.scale = int(getattr(self.pipe, "vae_scale_factor", MULTIPLE))
        if self.channels == 9 and self.pipeline_task != "inpainting":
            from ..errors import WrongModelType

            raise WrongModelType(
                f"{self.model_id} is an inpainting model (its UNet takes a mask); it cannot run {self.spec.name}.",
                f"Run it with: modeldeck run inpainting IMAGE MASK PROMPT -m {self.model_id}",
            )

    # -- checks ---------------------------------------------------------------------------------

    @classmethod
    def check(cls, inputs, params) -> None:
        super().check(inputs, params)
        for name in ("width", "height"):
            value = params.get(name)
            if value is not None and value % MULTIPLE:
                low = value - value % MULTIPLE
                raise InvalidInput(
                    f"{name} must be a multiple of {MULTIPLE}, not {value}.",
                    f"Use {low} or {low + MULTIPLE}." if low else f"Use {MULTIPLE}.", param=name,
                )

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        for name in ("width", "height"):
            value = params.get(name)
            if value is not None and value % self.scale:
                raise InvalidInput(f"{name} must be a multiple of {self.scale} for {self.model_id}, not {value}.",
                                   param=name)

    # -- steps -------------------------------------------------------------------------------------

    def size_for(self, params, image=None) -> tuple[int, int]:
        """(width, height): as asked, else the input picture's (rounded down to the VAE's cells), else the model's."""
        from ..backends.diffusers import default_size

        width, height = params.get("width"), params.get("height")
        if image is not None and (width is None or height is None):
            w, h = image.size
            if width is None and height is None:
                width, height = w, h
            elif width is None:
                width = round(w * height / h)
            else:
                height = round(h * width / w)
            rounded = (max(self.scale, width - width % self.scale), max(self.scale, height - height % self.scale))
            if rounded != (width, height):
                notice(f"The picture is {w}x{h}; made at {rounded[0]}x{rounded[1]} (a multiple of {self.scale}).")
            return rounded
        side = default_size(self.pipe)
        return width or side, height or side

    def preprocess(self, inputs, **params):
        tokenizer = getattr(getattr(self, "pipe", None), "tokenizer", None)  # none for DALL·E Mini
        if tokenizer is not None:  # CLIP reads 77 tokens; diffusers cuts the rest with only a log line
            from ..cuts import tell_cuts

            limit = tokenizer.model_max_length
            tell_cuts(tokenizer, inputs["prompt"], limit, "prompt", f"{self.model_id}'s text encoder")
            tell_cuts(tokenizer, params.get("negative_prompt"), limit, "negative prompt", f"{self.model_id}'s text encoder")
        seed = params.get("seed")
        item = dict(inputs)
        item["seed"] = secrets.randbelow(2**31) if seed is None else seed
        return item

    def forward(self, batch, **params):
        return [self.generate(item, **params) for item in batch]

    def call_args(self, item, size, **params) -> dict[str, Any]:
        """The keyword arguments of one pipeline call (tasks add their image inputs)."""
        import torch

        steps = params.get("steps") or self.default_steps
        guidance = params.get("guidance_scale")
        guidance = self.default_guidance if guidance is None else guidance
        return dict(
            prompt=item["prompt"], negative_prompt=params.get("negative_prompt"), num_inference_steps=steps,
            guidance_scale=guidance, num_images_per_prompt=params.get("num_images") or 1,
            # a CPU generator: the same seed gives the same starting noise on any device
            generator=torch.Generator("cpu").manual_seed(item["seed"]),
            width=size[0], height=size[1],
        )

    def generate(self, item, **params) -> dict[str, Any]:
        """Run the pipeline once (on the engine's worker): the pictures and the settings used."""
        from ..backends.diffusers import scheduler_for, use_tiling

        width, height = item.get("size") or self.size_for(params)
        args = self.call_args(item, (width, height), **params)
        pipe = self.pipe
        # per-call pipeline settings: only this worker thread ever calls the pipeline
        pipe.scheduler = scheduler_for(self.model_scheduler, params.get("scheduler"))
        use_tiling(pipe, self.device, width, height)
        accepted = inspect.signature(pipe.__call__).parameters
        if args.get("negative_prompt") and "negative_prompt" not in accepted:
            notice(f"{type(pipe).__name__} takes no negative prompt; it was left out.")
        args = {k: v for k, v in args.items() if k in accepted}
        checker = getattr(pipe, "safety_checker", None)
        if not params.get("safety_checker", True) and checker is not None:
            pipe.safety_checker = None
        try:
            out = pipe(**args, output_type="pil", callback_on_step_end=_report_step)
        finally:
            if checker is not None:
                pipe.safety_checker = checker
        nsfw = getattr(out, "nsfw_content_detected", None) or [False] * len(out.images)
        used = {
            "model": self.model_id, "task": self.spec.name, "prompt": item["prompt"],
            "negative_prompt": args.get("negative_prompt"), "steps": args["num_inference_steps"],
            "guidance_scale": args["guidance_scale"], "width": width, "height": height, "seed": item["seed"],
            "scheduler": params.get("scheduler") or "default", "scheduler_class": type(pipe.scheduler).__name__,
            "safety_checker": bool(params.get("safety_checker", True)) and checker is not None,
        }
        if "strength" in args:  # from a picture: only steps x strength of the steps run; say how many did
            from ..workload import denoising_steps

            used["strength"] = args["strength"]
            used["denoising_steps"] = denoising_steps(args["num_inference_steps"], args["strength"])
        used.update(item.get("sources", {}))
        return {"images": list(out.images), "nsfw": [bool(x) for x in nsfw], "parameters": used}

    def postprocess(self, output, **params):
        flagged = [n + 1 for n, bad in enumerate(output["nsfw"]) if bad]
        if flagged:
            which = "the picture" if len(output["nsfw"]) == 1 else "picture " + ", ".join(map(str, flagged))
            notice(
                f"The model's safety checker flagged {which} as not safe for work; it was blacked out "
                "(nsfw: true in the result). To turn the checker off: --no-safety-checker / safety_checker=False."
            )
        return {
            "images": output["images"], "nsfw": output["nsfw"], "seed": output["parameters"]["seed"],
            "parameters": output["parameters"],
        }

    # -- saving ----------------------------------------------------------------------------

    @classmethod
    def save(cls, result, path: Path, inputs) -> list[Path]:
        """PNG with every setting in its text metadata; several pictures: ``out.png`` is a grid of them all and
        ``out-1.png``, ``out-2.png``... each one. .jpg/.webp without metadata; .json for the data. Returns
        the files written."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in PICTURE_SUFFIXES:
            if suffix in ("", ".json"):
                super().save(result, path, inputs)
                return [path]
            raise InvalidInput(f"Cannot tell what to write to {path.name!r}.",
                               "Name the file .png (with the settings inside), .jpg or .webp, or .json for the data.")
        images = result["images"]
        targets = numbered(path, len(images))
        pictures = list(zip(targets, images))
        if len(images) > 1:  # a grid too, so one file shows the whole run (as DALL·E Mini's own grid)
            pictures.insert(0, (path, grid(images)))
        for target, image in pictures:
            if suffix == ".png":
                image.save(target, pnginfo=png_metadata(result))
            else:
                image.convert("RGB").save(target)
        return [target for target, _ in pictures]


def numbered(path: Path, count: int) -> list[Path]:
    """``out.png`` for one picture; ``out-1.png``, ``out-2.png``... for several."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, count + 1)]


def grid(images: list):
    """The pictures tiled row by row in a near-square grid (4 -> 2x2, 3 -> 2x2 with one cell empty)."""
    import math

    from PIL import Image

    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    width, height = max(i.width for i in images), max(i.height for i in images)
    sheet = Image.new("RGB", (columns * width, rows * height), "white")
    for n, image in enumerate(images):
        sheet.paste(image.convert("RGB"), ((n % columns) * width, (n // columns) * height))
    return sheet


def png_metadata(result):
    """PNG text chunks: ``parameters`` (all settings, JSON), and prompt, seed and model on their own."""
    from PIL.PngImagePlugin import PngInfo

    parameters = result.get("parameters", {})
    info = PngInfo()
    info.add_text("parameters", json.dumps(parameters, ensure_ascii=False, sort_keys=True))
    for key in ("prompt", "negative_prompt", "seed", "model"):
        if parameters.get(key) is not None:
            info.add_itxt(key, str(parameters[key]))
    info.add_text("Software", "modeldeck")
    return info


def _report_step(pipe, step: int, timestep, callback_kwargs):
    """diffusers' step callback: a progress report per denoising step."""
    total = getattr(pipe, "num_timesteps", None) or step + 1
    progress(step + 1, int(total))
    return callback_kwargs


def load_mask(value, size: tuple[int, int]):
    """A mask in any mode as 8-bit grey ("L") at ``size`` (white = repaint); all black is an error."""
    from PIL import Image

    mask = value.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.BILINEAR)  # no ringing: black stays exactly black
    if mask.getextrema()[1] < 128:
        raise InvalidInput("The mask is all black: there is nothing to repaint.",
                           "Paint the area to repaint white (the rest black).", param="mask")
    return mask


def source_names(inputs) -> dict[str, str]:
    """The file names of the input pictures, for the PNG metadata (``image``/``mask``), where they came from files."""
    found = {}
    for name in ("image", "mask"):
        value = inputs.get(name)
        source = getattr(value, "info", {}).get("source") if value is not None else None
        if source:
            found[name] = str(source)
    return found
