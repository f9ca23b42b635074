"""Seconds per denoising step of Stable Diffusion v1.4-sized text-to-image: modeldeck (fp32, and bf16 on a CPU
that computes it natively) vs a plain diffusers ``StableDiffusionPipeline`` (fp32) with the same parameters, on
the same machine, in one run; the bf16 picture's PSNR against the fp32 one; and peak memory, predicted
(``backends.diffusers.predict_pipeline_bytes``) vs measured.

The Hub is unreachable here, so the pipeline is built from v1.4's configs (written out below: UNet 860M,
VAE 84M, CLIP ViT-L/14 text encoder 123M, safety checker 304M parameters) with random weights; timings
depend on the shapes, not on the values. Each side runs in its own fresh process (peak RSS is per process,
and the plain side must not inherit modeldeck's allocator settings); the sides run in turn, and with
``--passes 2`` again in reverse order (ABC CBA), the medians taken over both passes. A step is the time
between two step callbacks (UNet with classifier-free guidance + scheduler). Pinned: modeldeck's dtype per
side (MODELDECK_DTYPE and the load option), torch threads = physical cores (``--threads``); the CPU features
seen are printed. Side ``modeldeck-mallocdefault`` (``--sides``) runs modeldeck with glibc's default
allocator settings (MODELDECK_MALLOC=default): the cost those settings remove.
Prints a JSON line and markdown rows; the ratio is plain's seconds per step over modeldeck's (> 1: faster).

    python bench/diffusion.py [--steps 3] [--sizes 256,512] [--passes 2]
        [--sides plain,modeldeck,modeldeck-bf16,modeldeck-mallocdefault]
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
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MODELDECK_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.fixtures: the CLIP tokenizer
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from pinning import load, pin  # noqa: E402

SIDES = {  # side -> (dtype, environment)
    "plain": ("fp32", {}),
    "modeldeck": ("fp32", {}),
    "modeldeck-bf16": ("bf16", {}),
    "modeldeck-mallocdefault": ("fp32", {"MODELDECK_MALLOC": "default"}),
}

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


def status_bytes(field: str) -> int:
    """A resident-memory field of /proc/self/status (RssAnon, RssFile), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


class AnonPeak(threading.Thread):
    """The highest anonymous resident memory seen (sampled every 5 ms). Peak RSS also counts the pages of
    weight files a load maps and reads while it casts them (clean file pages the kernel can reclaim when memory is short);
    anonymous memory is what a process cannot give back."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = status_bytes("RssAnon"), threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, status_bytes("RssAnon"))

    def stop(self) -> int:
        self.done.set()
        self.join()
        return max(self.peak, status_bytes("RssAnon"))


def run_side(side: str, folder: str, steps: int, sizes: list[int], threads: int | None, save: str | None) -> dict:
    """One side in this (fresh) process: step times per size, then peak memory; the last picture saved as
    a numpy array (for the PSNR) when ``save`` names a file."""
    dtype, _ = SIDES[side]
    pin("torch", dtype, threads, quiet=True)
    import numpy as np
    import torch

    import diffusers  # noqa: F401 - import cost outside the measured load
    import transformers  # noqa: F401

    baseline, baseline_anon, baseline_file = rss(), status_bytes("RssAnon"), status_bytes("RssFile")
    anon = AnonPeak()
    anon.start()
    times: dict[int, list[float]] = {}
    stamps: list[float] = []
    if side == "plain":
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)

        def call(size):
            return pipe(PROMPT, num_inference_steps=steps, width=size, height=size,
                        generator=torch.Generator().manual_seed(0),
                        callback_on_step_end=lambda p, i, t, kw: (stamps.append(time.perf_counter()), kw)[1]).images[0]
    else:
        import modeldeck

        runner = modeldeck.load("text-to-image", folder, device="cpu", dtype=dtype)
        assert (runner.runtime, runner.precision or "fp32") == ("torch", dtype), (runner.runtime, runner.precision)

        def call(size):
            return runner(PROMPT, steps=steps, width=size, height=size, seed=0,
                          on_progress=lambda done, total: stamps.append(time.perf_counter()))["images"][0]
    loaded = rss()
    picture = None
    for size in sizes:
        stamps.clear()
        start = time.perf_counter()
        picture = call(size)
        total = time.perf_counter() - start
        times[size] = {"steps_s": [b - a for a, b in zip(stamps, stamps[1:])], "call_s": total}
    if save and picture is not None:
        np.save(save, np.asarray(picture.convert("RGB"), dtype=np.uint8))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # held: the anonymous peak plus the weight-file pages still mapped at the end (a load that does not cast
    # may keep its tensors in the mapped file); what the model holds at its peak, without the cast's reads
    held = anon.stop() - baseline_anon + status_bytes("RssFile") - baseline_file
    return {"side": side, "dtype": dtype, "threads": torch.get_num_threads(), "times": times,
            "peak_bytes": peak - baseline, "held_bytes": held, "loaded_bytes": loaded - baseline,
            "load_average": load()}


def psnr(a_file: Path, b_file: Path) -> float | None:
    import numpy as np

    if not (a_file.is_file() and b_file.is_file()):
        return None
    a, b = np.load(a_file).astype(np.float64) / 255, np.load(b_file).astype(np.float64) / 255
    mse = ((a - b) ** 2).mean()
    return round(float("inf") if mse == 0 else 10 * float(np.log10(1 / mse)), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--passes", type=int, default=2, help="1: each side once; 2: ABC then CBA")
    parser.add_argument("--sides", default="plain,modeldeck,modeldeck-bf16")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.side:
        print(json.dumps(run_side(args.side, args.folder, args.steps, sizes, args.threads, args.save)))
        return
    machine = pin("torch", "fp32", args.threads)
    sides = [s for s in args.sides.split(",") if s]
    unknown = [s for s in sides if s not in SIDES]
    if unknown:
        sys.exit(f"unknown side(s) {unknown}: choose from {', '.join(SIDES)}")
    if "modeldeck-bf16" in sides and machine["native_bf16"] is None:
        print("modeldeck-bf16: skipped (this CPU does not compute bf16 natively)", file=sys.stderr)
        sides.remove("modeldeck-bf16")

    from modeldeck.backends.diffusers import predict_pipeline_bytes
    from modeldeck.memory import format_bytes

    order = sides + (sides[::-1] if args.passes > 1 else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sd-v1-4-random"
        started = time.perf_counter()
        build(folder)
        print(f"built v1.4-sized pipeline in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        predicted = {dtype: predict_pipeline_bytes(folder, dtype, "cpu") for dtype in ("fp32", "bf16")}
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for n, side in enumerate(order):
            env = {**os.environ, **SIDES[side][1]}
            out = subprocess.run(
                [sys.executable, __file__, "--side", side, "--folder", str(folder), "--steps", str(args.steps),
                 "--sizes", args.sizes, "--save", str(Path(tmp) / f"{side}.npy"),
                 *(["--threads", str(args.threads)] if args.threads else [])],
                capture_output=True, text=True, check=False, env=env,
            )
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            result = json.loads(out.stdout.strip().splitlines()[-1])
            runs[side].append(result)
            print(f"  run {n + 1}/{len(order)} {side}: " + ", ".join(
                f"{k} px {statistics.median(v['steps_s']):.2f} s/step" for k, v in result["times"].items())
                  + f"; load {result['load_average']}", file=sys.stderr, flush=True)
        pictures = {side: Path(tmp) / f"{side}.npy" for side in sides}
        agreement = {
            "psnr_bf16_vs_fp32_db": psnr(pictures.get("modeldeck", Path()), pictures.get("modeldeck-bf16", Path())),
            "psnr_modeldeck_vs_plain_db": psnr(pictures.get("plain", Path()), pictures.get("modeldeck", Path())),
        }
    step = {side: {size: statistics.median(t for r in rs for t in r["times"][str(size)]["steps_s"]) for size in sizes}
            for side, rs in runs.items()}
    peak = {side: max(r["peak_bytes"] for r in rs) for side, rs in runs.items()}
    held = {side: max(r["held_bytes"] for r in rs) for side, rs in runs.items()}
    line = {
        "bench": "diffusion", **machine, "steps": args.steps, "passes": args.passes, "predicted_bytes": predicted,
        "step_s": {side: {str(k): round(v, 3) for k, v in sizes_.items()} for side, sizes_ in step.items()},
        "peak_bytes": peak, "held_bytes": held, "runs": runs, **agreement, "load_average_end": load(),
    }
    base = "plain" if "plain" in step else None
    for side in step:
        for size in sizes:
            if base and side != base:
                line[f"ratio_{side}_{size}"] = round(step[base][size] / step[side][size], 3)
            if side == "modeldeck-bf16" and "modeldeck" in step:
                line[f"ratio_bf16_over_fp32_{size}"] = round(step["modeldeck"][size] / step[side][size], 3)
    print(json.dumps(line))
    loads = sorted(x for rs in runs.values() for r in rs for x in r["load_average"][:1])
    print(f"\nload average (1 min) over the runs: {loads[0]:.2f} to {loads[-1]:.2f}")
    print("| job | plain diffusers (fp32) | modeldeck | ratio |")
    print("| --- | --- | --- | --- |")
    for side in step:
        if side == base:
            continue
        dtype = SIDES[side][0]
        label = {"modeldeck-mallocdefault": ", glibc malloc defaults"}.get(side, "")
        for size in sizes:
            plain = f"{step[base][size]:.2f} s" if base else ""
            ratio = f"{line[f'ratio_{side}_{size}']:.2f}x" if base else ""
            extra = ""
            if side == "modeldeck-bf16" and "modeldeck" in step:
                extra = f"; bf16 over modeldeck fp32: {line[f'ratio_bf16_over_fp32_{size}']:.2f}x"
            print(f"| text-to-image {size}x{size}, s per step (v1.4-sized, cpu {dtype}{label}) | {plain} "
                  f"| {step[side][size]:.2f} s | {ratio}{extra} |")
    if agreement["psnr_bf16_vs_fp32_db"] is not None:
        print(f"| bf16 picture against the fp32 one ({sizes[-1]}x{sizes[-1]}, same seed) | | "
              f"PSNR {agreement['psnr_bf16_vs_fp32_db']} dB | floor 30 dB |")
    for side in step:
        dtype = SIDES[side][0]
        print(f"| peak memory ({side}, growth over the imports) | | {format_bytes(peak[side])} "
              f"| predicted {format_bytes(predicted[dtype])} ({predicted[dtype] / peak[side]:.2f}x) |")
        print(f"| held at the peak ({side}: anonymous peak + weight pages mapped at the end) | | "
              f"{format_bytes(held[side])} | predicted {format_bytes(predicted[dtype])} "
              f"({predicted[dtype] / held[side]:.2f}x) |")


if __name__ == "__main__":
    main()
