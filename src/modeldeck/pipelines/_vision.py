"""What the vision tasks share: decoding image inputs up front, the downscale parameter,
and saving the output kind's picture of the result with ``-o out.png``. (A helper module, not a task.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..spec import Param
from ..task import Task

DOWNSCALE = Param(
    "downscale", bool, False,
    "shrink images over the pixel limit (MODELDECK_MAX_IMAGE_PIXELS, 40 MP by default) instead of refusing them",
    stage="preprocess",
)
PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
DRAWN_SUFFIXES = (*sorted(PICTURE_SUFFIXES), ".json", "")  # what tasks write whose output kind has a picture


class VisionTask(Task):
    """A task with image inputs (decoded and checked by ``Task.check``, before the model loads).

    The default steps suit one-image models (``self.processor`` + ``self.model``):
    postprocess gets the model outputs and the image's (width, height).
    """

    output_suffixes = (".json", "")  # DRAWN_SUFFIXES where the output kind has a picture (boxes, masks, depth)
    max_batch_size = 8
    # Pictures per pass are also bounded by their pixels (cost: thousands of pixels the model sees):
    # big pictures (DETR's 800x1066) gain nothing from company on a CPU and need the memory alone.
    max_batch_tokens = 1600
    # Models that scale a picture to fit a square lose a side thinner than a pixel at extreme shapes.
    max_aspect: float | None = None

    def validate(self, inputs, params) -> None:
        super().validate(inputs, params)
        if self.max_aspect is None:
            return
        for image in inputs["image"] if isinstance(inputs.get("image"), list) else [inputs.get("image")]:
            width, height = image.size
            if max(width, height) > self.max_aspect * min(width, height):
                raise InvalidInput(
                    f"The picture is {width}x{height} pixels: too thin for {self.model_id}, which scales it to fit "
                    f"its input (one side would shrink under a pixel).",
                    f"Crop or pad it to a shape no more than {self.max_aspect:g} times longer than wide.", param="image",
                )

    def preprocess(self, inputs, **_):
        image = inputs["image"]
        # channels_last said outright: a 1- or 3-pixel-high picture looks channels-first to the guesser
        return self.processor(images=image, return_tensors="pt", input_data_format="channels_last"), image.size

    def batch_key(self, item):
        """Pictures share a pass when the processor made tensors of one shape for them (no padding, so
        each comes out as it would alone)."""
        return tensor_shapes(item[0])

    def cost(self, item) -> int:
        encoded = item[0] if isinstance(item, tuple) else item
        pixels = encoded.get("pixel_values") if hasattr(encoded, "get") else None
        return max(1, int(pixels.shape[-1] * pixels.shape[-2]) // 1000) if pixels is not None else 1

    def forward(self, batch, **_):
        outputs = self.model(**self.on_device(stack([encoded for encoded, _ in batch])))
        return list(zip(split_output(outputs, len(batch)), (size for _, size in batch)))

    def on_device(self, encoded):
        """Processor output moved to the model's device, pictures in the model's dtype."""
        encoded = encoded.to(self.device)
        if "pixel_values" in encoded:
            encoded["pixel_values"] = encoded["pixel_values"].to(self.model.dtype)
        return encoded

    def text_limit(self) -> int:
        """How many text tokens the model reads (its text position table; texts are cut to it)."""
        from ..generation import model_window

        config = self.model.config
        return model_window(getattr(config, "text_config", None) or config, self.processor.tokenizer, default=512)

    @classmethod
    def source_image(cls, inputs: dict[str, Any], name: str = "image"):
        """The input picture again, as the model saw it (results are in its pixels)."""
        from ..media.image import load_image

        value = inputs[name]
        return load_image(value[0] if isinstance(value, list) else value, downscale=True)

    @classmethod
    def save(cls, result: Any, path: Path, inputs: dict[str, Any]) -> None:
        """A picture for image file names (.png, .jpg, ...), JSON for anything else."""
        path = Path(path)
        if path.suffix.lower() not in PICTURE_SUFFIXES:
            if path.suffix.lower() in ("", ".json"):
                return super().save(result, path, inputs)
            raise InvalidInput(
                f"Cannot tell what to write to {path.name!r}.",
                "Name the file .png or .jpg for a picture, or .json for the data.",
            )
        from ..outputs import to_picture

        source = cls.source_image(inputs)
        # nothing found: the input picture as it came; else every box or mask drawn (a notebook shows the best few)
        picture = source.convert("RGB")
        if result:
            picture = to_picture(cls.spec.output, result, {"picture": source, "most": None})
        if picture is None:  # check_output refuses picture files for output kinds with no picture, before any work
            raise InvalidInput(f"{cls.spec.name} makes no picture.", "Name the file .json for the data.")
        if path.suffix.lower() in (".jpg", ".jpeg") and picture.mode not in ("RGB", "L"):
            picture = picture.convert("RGB")
        picture.save(path)


def tensor_shapes(encoded) -> tuple:
    """The names and shapes of a processor's tensors (items with equal shapes can be stacked)."""
    return tuple((name, tuple(value.shape)) for name, value in encoded.items() if hasattr(value, "shape"))


def stack(encodings: list):
    """Processor outputs of one item each, as one batch (their tensors concatenated along the first axis)."""
    import torch
    from transformers import BatchFeature

    if len(encodings) == 1:
        return encodings[0]
    return BatchFeature({name: torch.cat([e[name] for e in encodings]) for name in encodings[0]})


def split_output(outputs, count: int) -> list:
    """A batched model output as one output per item (each tensor cut to that item's row)."""
    import torch

    if count == 1:
        return [outputs]
    return [
        type(outputs)(**{
            name: value[i : i + 1] if isinstance(value, torch.Tensor) and value.shape[:1] == (count,) else value
            for name, value in outputs.items()
        })
        for i in range(count)
    ]
