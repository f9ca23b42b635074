"""depth-estimation: a depth map for an image, as a float array and as an 8-bit picture."""

from __future__ import annotations

from typing import Any

from ..spec import Input, TaskSpec
from ._vision import DOWNSCALE, DRAWN_SUFFIXES, VisionTask


class DepthResult(dict):
    """``{"depth": 8-bit PIL picture, "min": float, "max": float}`` (the JSON view), plus the float map.

    ``result["predicted_depth"]`` (also ``result.predicted_depth``) is the float32 numpy array at the
    input's height and width; it stays out of the dict's items so ``--json`` stays small. The picture
    maps ``min`` to 0 and ``max`` to 255, so ``min + picture / 255 * (max - min)`` approximates the map.
    """

    def __init__(self, depth, predicted_depth):
        super().__init__(depth=depth, min=float(predicted_depth.min()), max=float(predicted_depth.max()))
        self.predicted_depth = predicted_depth

    def __missing__(self, key: str) -> Any:
        if key == "predicted_depth":
            return self.predicted_depth
        raise KeyError(key)


class DepthEstimation(VisionTask):
    spec = TaskSpec(
        name="depth-estimation",
        summary="Estimate depth for every pixel of an image (MiDaS/DPT: larger values are nearer).",
        default_model="Intel/dpt-hybrid-midas",
        inputs=(Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),),
        output="depth",
        output_help="a depth map at the image's size (picture + float array); -o saves it in colour",
        params=(DOWNSCALE,),
        model_types=("dpt", "glpn", "depth_anything", "zoedepth", "depth_pro", "prompt_depth_anything"),
        modality="vision",
        examples=({"image": "room.jpg"},),
    )
    output_suffixes = DRAWN_SUFFIXES

    def load(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(AutoImageProcessor, self.model_path)
        self.model = load_model(AutoModelForDepthEstimation, self.model_path, self.device)

    def postprocess(self, outputs, **_) -> DepthResult:
        from ..media.draw import depth_to_gray

        outputs, (width, height) = outputs
        outputs.predicted_depth = outputs.predicted_depth.float()
        depth = self.processor.post_process_depth_estimation(outputs, target_sizes=[(height, width)])[0]
        # reshaped: the post-processor squeezes a 1-pixel side away
        array = depth["predicted_depth"].cpu().numpy().astype("float32").reshape(height, width)
        return DepthResult(depth_to_gray(array), array)


TASK = DepthEstimation
