"""inpainting: repaint the white part of a mask after a prompt; the rest of the picture stays as it was.

Works with ordinary Stable Diffusion checkpoints (the default, v1.4: diffusers blends the
known latents back at every step) and with dedicated inpainting checkpoints, whose 9-channel
UNet takes the mask and the masked picture as inputs (better seams and content that fits).
"""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from ._diffusion import (
    COMMON_PARAMS, OUTPUT_SCHEMA, PROMPT_PARAMS, SIZE_PARAMS, DiffusionTask, load_mask, source_names,
)

STRENGTH = Param(
    "strength", float, 1.0, "how much to change the masked area: 1 repaints it entirely, lower keeps more of it",
    min=0, exclusive_min=True, max=1, stage="forward",
)


class Inpainting(DiffusionTask):
    spec = TaskSpec(
        name="inpainting",
        summary="Repaint the white area of a mask after a text prompt; the rest of the picture is kept.",
        default_model="CompVis/stable-diffusion-v1-4",
        inputs=(
            Input("image", "image", help="the picture"),
            Input("mask", "image", help="white = repaint, black = keep (any mode; resized to the picture)"),
            Input("prompt", "text", help="what to paint there"),
        ),
        output="image",
        output_help='{"images": [PNG], "nsfw": [bool], "seed", "parameters"}',
        params=(STRENGTH, *PROMPT_PARAMS, *SIZE_PARAMS, *COMMON_PARAMS),
        modality="vision",
        backend="diffusers",
        examples=({"image": "cats.jpg", "mask": "cats-mask.png", "prompt": "a small dog", "seed": 1},),
        output_schema=OUTPUT_SCHEMA,
    )
    pipeline_task = "inpainting"

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        load_mask(inputs["mask"], inputs["mask"].size)  # all black: nothing to do, said before the model runs

    def preprocess(self, inputs, **params):
        from PIL import Image

        item = super().preprocess(inputs, **params)
        size = self.size_for(params, inputs["image"])
        item["image"] = inputs["image"].convert("RGB").resize(size, Image.LANCZOS)
        item["mask"] = load_mask(inputs["mask"], size)
        item["size"] = size
        item["sources"] = source_names(inputs)
        return item

    def call_args(self, item, size, **params):
        args = super().call_args(item, size, **params)
        args.update(image=item["image"], mask_image=item["mask"], strength=params.get("strength", STRENGTH.default))
        return args

    def generate(self, item, **params):
        output = super().generate(item, **params)
        output["keep"] = (item["image"], item["mask"])
        return output

    def postprocess(self, output, **params):
        from PIL import Image

        original, mask = output.pop("keep")
        # outside the mask the picture is the input, pixel for pixel (the VAE round trip would blur it)
        output["images"] = [
            Image.composite(image.convert("RGB").resize(original.size), original, mask) if not bad else image
            for image, bad in zip(output["images"], output["nsfw"])
        ]
        return super().postprocess(output, **params)


TASK = Inpainting
