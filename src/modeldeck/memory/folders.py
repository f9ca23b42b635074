"""Predicting a model folder's memory, whatever it holds: one model, a diffusers pipeline of several
models (each part counted, plus one generation's working memory), or a min-dalle variant."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModeldeckError
from .headers import Weights, local_weights, read_tensors
from .predict import load_dtype, predict_bytes


def is_pipeline(folder: Path) -> bool:
    """Whether ``folder`` holds a pipeline of several models (diffusers) or min-dalle's variants: predicted by
    their own rules, in float dtypes only."""
    return (folder / "model_index.json").is_file() or any(folder.glob("detoker*.pt"))


def predicted_size(path, device: str, model_id: str = "", dtype: str | None = None) -> int:
    """Predicted resident memory of the model in folder ``path`` on ``device`` loaded in ``dtype``
    (default: ``load_dtype(device)``; headers only).

    A diffusers pipeline counts all its parts and one generation's working memory; a min-dalle
    variant its own files only."""
    path = Path(path)
    if (path / "model_index.json").is_file():
        return predict_pipeline_bytes(path, dtype or load_dtype(device), device)
    if model_id and any(path.glob("detoker*.pt")):
        from ..backends.min_dalle import predict_bytes as min_dalle_bytes

        return min_dalle_bytes(path, model_id, 2 if device.startswith("cuda") else 4)
    try:
        weights = local_weights(Path(path))
    except (ModeldeckError, OSError):
        return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return predict_bytes(weights, dtype or load_dtype(device), device)


# -- diffusers pipelines: several models in one folder ------------------------------------------------

# The parts of a pipeline that hold weights (the tokenizer, scheduler and feature extractor hold none).
PIPELINE_PARTS = ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "safety_checker", "image_encoder")


def _part_weights(folder: Path) -> list[Path]:
    """The weights file(s) diffusers loads for one part: safetensors over .bin, plain over fp16/non-EMA."""
    from ..download import VARIANT

    names = sorted(p for p in folder.iterdir() if p.is_file())
    plain = [p for p in names if not VARIANT.match(p.name)]
    for suffix in (".safetensors", ".bin"):
        found = [p for p in plain if p.suffix == suffix and not p.name.endswith(".index.json")]
        if found:
            return found
    return []


def predict_pipeline_bytes(folder: Path, dtype: str, device: str) -> int:
    """Predicted memory of a loaded diffusers pipeline: the sum over its weight parts (unet, vae,
    text_encoder, safety_checker...) of their tensors in ``dtype``, each with the per-model overhead,
    plus what one 512x512 generation needs on top (latents, attention slices, the VAE decoder's activations).

    ``dtype``: "fp32", "fp16" or "bf16"; ``device``: "cpu" or "cuda...". Headers only, nothing loaded.
    """
    folder = Path(folder)
    total = 0
    try:
        index = json.loads((folder / "model_index.json").read_text())
        parts = [name for name, value in index.items() if isinstance(value, list) and value[0]]
    except (OSError, ValueError):
        parts = list(PIPELINE_PARTS)
    for part in parts:
        sub = folder / part
        if part not in PIPELINE_PARTS or not sub.is_dir():
            continue
        files = _part_weights(sub)
        if files:
            weights = Weights(str(sub), "folder", {f.name: f.stat().st_size for f in files}, read_tensors(files))
            total += predict_bytes(weights, dtype, device)
    return total + working_bytes(dtype, device)


CPU_WORKING_PER_PIXEL = 5 * 1024  # bytes: see working_bytes


def working_bytes(dtype: str, device: str, side: int = 512) -> int:
    """Memory one generation at ``side`` x ``side`` takes beyond the weights (bench/diffusion.py measures it).

    On a CPU, measured: the anonymous peak over the loaded weights at 512x512 (v1.4-sized) is 1.2-1.4 GB in
    bf16 and 1.0-1.7 GB in fp32, so about 5 KiB per pixel whatever the dtype (bf16 does not halve it). On a
    GPU the VAE decoder's activations dominate (128-512 channels at full resolution, a few at a time).
    Not counted: while a load casts weights (fp32 files into bf16), it reads each part's file through a
    mapping, which peak RSS counts (6.4 GB for bf16 v1.4 here, 4.2 GB held); those are clean file pages the
    kernel can reclaim when memory is short."""
    pixels = side * side
    if not device.startswith(("cuda", "mps")):
        return pixels * CPU_WORKING_PER_PIXEL
    per = 2 if dtype in ("fp16", "bf16") else 4
    # decoder: the widest full-resolution stage holds ~3 activations of 128 channels at once, and the
    # half-resolution ones 256; the UNet's activations at 1/64 the pixels are small beside them.
    return pixels * per * (128 * 3 + 256 * 3 // 4)
