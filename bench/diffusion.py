"""Seconds per denoising step of Stable Diffusion v1.4-sized text-to-image: modeldeck vs a plain diffusers
``StableDiffusionPipeline`` with the same parameters, on the same machine, in one run; and peak memory,
predicted (``backends.diffusers.predict_pipeline_bytes``) vs measured.

The Hub is unreachable here, so the pipeline is built from v1.4's configs (written out below: UNet 860M,
VAE 84M, CLIP ViT-L/14 text encoder 123M, safety checker 304M parameters) with random weights; timings
depend on the shapes, not on the values. Each side runs in its own fresh process (peak RSS is per
process). A step is the time between two step callbacks (UNet with classifier-free guidance + scheduler).
Prints a JSON line and markdown rows; the ratio is plain's seconds per step over modeldeck's (> 1: faster).

    python bench/diffusion.py [--steps 3] [--sizes 256,512]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MODELDECK_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.fixtures: the CLIP tokenizer
sys.path.insert(0, str(REPO / "src"))

UNET = dict(  # CompVis/stable-diffusion-v1-4 unet/config.json
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
)
VAE = dict(  # vae/config.json
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512,
    norm_num_groups=32, scaling_factor=0.18215,
)
TEXT = dict(  # text_encoder/config.json (CLIP ViT-L/14's text tower)
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768,
)
VISION = dict(  # safety_checker/config.json, vision tower (CLIP ViT-L/14)
    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=224,
    patch_size=14, hidden_act="quick_gelu", projection_dim=768,
)
PROMPT = "a photograph of an astronaut riding a horse"


def build(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    from tests.fixtures.models_vision import clip_tokenizer

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    text = CLIPTextModel(CLIPTextConfig(**TEXT, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
    checker = StableDiffusionSafetyChecker(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=768))
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel(**UNET), vae=AutoencoderKL(**VAE), text_encoder=text, tokenizer=tokenizer,
        scheduler=PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1),
        safety_checker=checker, feature_extractor=CLIPImageProcessor(), requires_safety_checker=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_side(side: str, folder: str, steps: int, sizes: list[int]) -> dict:
    """One side in this (fresh) process: step times per size, then peak memory."""
    import torch

    import diffusers  # noqa: F401 - import cost outside the measured load
    import transformers  # noqa: F401

    baseline = rss()
    times: dict[int, list[float]] = {}
    stamps: list[float] = []
    if side == "plain":
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)

        def call(size):
            pipe(PROMPT, num_inference_steps=steps, width=size, height=size,
                 generator=torch.Generator().manual_seed(0),
                 callback_on_step_end=lambda p, i, t, kw: (stamps.append(time.perf_counter()), kw)[1])
    else:
        import modeldeck

        runner = modeldeck.load("text-to-image", folder, device="cpu")

        def call(size):
            runner(PROMPT, steps=steps, width=size, height=size, seed=0,
                   on_progress=lambda done, total: stamps.append(time.perf_counter()))
    loaded = rss()
    for size in sizes:
        stamps.clear()
        start = time.perf_counter()
        call(size)
        total = time.perf_counter() - start
        times[size] = {"step_s": statistics.median(b - a for a, b in zip(stamps, stamps[1:])), "call_s": total}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"side": side, "times": times, "peak_bytes": peak - baseline, "loaded_bytes": loaded - baseline}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.side:
        print(json.dumps(run_side(args.side, args.folder, args.steps, sizes)))
        return
    import torch

    from modeldeck.backends.diffusers import predict_pipeline_bytes
    from modeldeck.memory import format_bytes

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sd-v1-4-random"
        started = time.perf_counter()
        build(folder)
        print(f"built v1.4-sized pipeline in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        predicted = predict_pipeline_bytes(folder, "fp32", "cpu")
        results = {}
        for side in ("plain", "modeldeck"):
            out = subprocess.run(
                [sys.executable, __file__, "--side", side, "--folder", str(folder), "--steps", str(args.steps),
                 "--sizes", args.sizes], capture_output=True, text=True, check=False,
            )
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            results[side] = json.loads(out.stdout.strip().splitlines()[-1])
    line = {
        "bench": "diffusion", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "load_average": round(os.getloadavg()[0], 1), "steps": args.steps, "predicted_bytes": predicted, **{
            side: {"times": {str(k): v for k, v in r["times"].items()}, "peak_bytes": r["peak_bytes"]}
            for side, r in results.items()
        },
    }
    for size in sizes:
        line[f"ratio_{size}"] = round(results["plain"]["times"][str(size)]["step_s"]
                                      / results["modeldeck"]["times"][str(size)]["step_s"], 3)
    print(json.dumps(line))
    print("| job | plain diffusers | modeldeck | ratio |")
    print("| --- | --- | --- | --- |")
    for size in sizes:
        plain, ours = results["plain"]["times"][str(size)], results["modeldeck"]["times"][str(size)]
        print(f"| text-to-image {size}x{size}, s per step (v1.4-sized, cpu fp32) | {plain['step_s']:.2f} s "
              f"| {ours['step_s']:.2f} s | {line[f'ratio_{size}']:.2f}x |")
    for side in ("plain", "modeldeck"):
        print(f"| peak memory ({side}, growth over the imports) | | {format_bytes(results[side]['peak_bytes'])} "
              f"| predicted {format_bytes(predicted)} ({predicted / results[side]['peak_bytes']:.2f}x) |")


if __name__ == "__main__":
    main()
