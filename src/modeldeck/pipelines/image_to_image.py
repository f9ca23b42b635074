"""image-to-image: a picture redrawn after a prompt (Stable Diffusion img2img); ``strength`` says how much."""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from ._diffusion import COMMON_PARAMS, OUTPUT_SCHEMA, PROMPT_PARAMS, SIZE_PARAMS, DiffusionTask, source_names

STRENGTH = Param(
    "strength", float, 0.8, "how much to change the picture: near 0 keeps it, 1 redraws it entirely "
    "(steps x strength denoising steps run)", min=0, exclusive_min=True, max=1, stage="forward",
)


class ImageToImage(DiffusionTask):
    spec = TaskSpec(
        name="image-to-image",
        summary="Redraw a picture after a text prompt (Stable Diffusion img2img).",
        default_model="CompVis/stable-diffusion-v1-4",
        inputs=(Input("image", "image", help="the picture to start from"), Input("prompt", "text", help="what to draw")),
        output="image",
        output_help='{"images": [PNG], "nsfw": [bool], "seed", "parameters"}',
        params=(STRENGTH, *PROMPT_PARAMS, *SIZE_PARAMS, *COMMON_PARAMS),
        modality="vision",
        backend="diffusers",
        examples=({"image": "cats.jpg", "prompt": "a watercolour painting of two cats", "strength": 0.6, "seed": 1},),
        output_schema=OUTPUT_SCHEMA,
    )
    pipeline_task = "image-to-image"

    def preprocess(self, inputs, **params):
        from PIL import Image

        item = super().preprocess(inputs, **params)
        size = self.size_for(params, inputs["image"])
        item["image"] = inputs["image"].convert("RGB").resize(size, Image.LANCZOS)
        item["size"] = size
        item["sources"] = source_names(inputs)
        return item

    def call_args(self, item, size, **params):
        args = super().call_args(item, size, **params)
        args.update(image=item["image"], strength=params.get("strength", STRENGTH.default))
        del args["width"], args["height"]  # img2img takes the picture's size
        return args


TASK = ImageToImage
