"""text-to-image: pictures from a prompt, with Stable Diffusion (diffusers) or DALL·E Mini (min-dalle)."""

from __future__ import annotations

from ..errors import InvalidInput
from ..notices import notice
from ..spec import Input, Param, TaskSpec
from ._diffusion import COMMON_PARAMS, OUTPUT_SCHEMA, PROMPT_PARAMS, SIZE_PARAMS, DiffusionTask

# Parameters only DALL·E Mini takes (None: its defaults, as min-dalle's generate_image has them).
DALLE_PARAMS = (
    Param("grid_size", int, None, "DALL·E Mini: a grid_size x grid_size set of pictures (default 1)",
          min=1, max=4, stage="forward"),
    # At least 0.01, as generation's temperature: below float32's smallest number a temperature is 0, and min-dalle's
    # division gave 'probability tensor contains inf/nan'; near 0 sampling picks the likeliest token anyway.
    Param("temperature", float, None, "DALL·E Mini: sampling temperature (default 1; 0.01 to 100)", min=0.01,
          max=100, stage="forward"),
    Param("top_k", int, None, "DALL·E Mini: sample among the k likeliest image tokens (default 256)", min=1,
          max=16384, stage="forward"),
    Param("supercondition_factor", float, None, "DALL·E Mini: how strongly the prompt conditions (default 16)",
          min=0, max=1000, stage="forward"),
)
DALLE_DEFAULTS = {"grid_size": 1, "temperature": 1.0, "top_k": 256, "supercondition_factor": 16.0}
SD_ONLY = ("negative_prompt", "steps", "guidance_scale", "width", "height", "num_images")


class TextToImage(DiffusionTask):
    spec = TaskSpec(
        name="text-to-image",
        summary="Make pictures from a text prompt (Stable Diffusion; DALL·E Mini with -m dalle-mini/dalle-mini).",
        default_model="CompVis/stable-diffusion-v1-4",
        inputs=(Input("prompt", "text", help="what to draw"),),
        output="image",
        output_help='{"images": [PNG], "nsfw": [bool], "seed", "parameters"}',
        params=(*PROMPT_PARAMS, *SIZE_PARAMS, *COMMON_PARAMS, *DALLE_PARAMS),
        modality="vision",
        backend="diffusers",
        examples=({"prompt": "a photograph of an astronaut riding a horse", "steps": 25, "seed": 1},),
        output_schema=OUTPUT_SCHEMA,
    )
    pipeline_task = "text-to-image"

    def load(self) -> None:
        from ..backends.min_dalle import MinDalleModel, is_min_dalle

        if is_min_dalle(self.model_path):
            self.backend = "min-dalle"
            self.dalle = MinDalleModel(self.model_path, self.model_id, self.device)
            return
        super().load()

    def validate(self, inputs, params) -> None:
        if self.backend == "min-dalle":
            wrong = [p for p in SD_ONLY if params.get(p) not in (None, self.spec.param(p).default)]
            if params.get("scheduler") not in (None, "default"):
                wrong.append("scheduler")
            if wrong:
                raise InvalidInput(
                    f"{self.model_id} (DALL·E Mini) does not take {', '.join(wrong)}.",
                    "It takes grid_size, temperature, top_k, supercondition_factor and seed; its pictures are 256x256.",
                    param=wrong[0],
                )
            return
        wrong = [p.name for p in DALLE_PARAMS if params.get(p.name) is not None]
        if wrong:
            raise InvalidInput(
                f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} for DALL·E Mini models; "
                f"{self.model_id} is a Stable Diffusion model.",
                "For Stable Diffusion use steps, guidance_scale, width, height, num_images and scheduler.", param=wrong[0],
            )
        super().validate(inputs, params)

    def generate(self, item, **params):
        if self.backend == "min-dalle":
            return self.generate_dalle(item, **params)
        return super().generate(item, **params)

    def generate_dalle(self, item, **params):
        from ..generation import seeded
        from ..notices import progress

        settings = {k: (params.get(k) if params.get(k) is not None else v) for k, v in DALLE_DEFAULTS.items()}
        tokens = self.dalle.tokenize(item["prompt"])
        if len(tokens) > self.dalle.text_tokens:
            notice(f"The prompt is {len(tokens)} tokens; DALL·E Mini reads the first {self.dalle.text_tokens}.")
        # min-dalle samples with torch.multinomial from torch's global generator: seeded under the RNG lock
        with seeded(item["seed"]):
            grid = self.dalle.generate(
                tokens, settings["grid_size"], settings["temperature"], settings["top_k"],
                settings["supercondition_factor"], step=progress,
            )
        images = self.dalle.images(grid, settings["grid_size"])
        used = {"model": self.model_id, "task": self.spec.name, "prompt": item["prompt"], "seed": item["seed"],
                "width": images[0].width, "height": images[0].height, **settings}
        return {"images": images, "nsfw": [False] * len(images), "parameters": used}


TASK = TextToImage
