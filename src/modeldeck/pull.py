"""Download models into the standard Hugging Face cache, only the files needed."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from . import settings
from .hub import ModelRef, require_online

# Weight formats other frameworks use; never needed by a PyTorch backend.
FOREIGN_WEIGHTS = ("*.h5", "*.msgpack", "*.ckpt.index", "*.ot", "tf_model*", "flax_model*", "rust_model*", "*.tflite", "*.mlmodel", "*.mlpackage/*", "onnx/*", "openvino/*", "*.onnx_data")
KEEP_ONNX = ("*.onnx", "*.onnx.json")


def is_pickle_weights(name: str) -> bool:
    """A pickled weights file (which safetensors make unnecessary)."""
    base = name.rsplit("/", 1)[-1]
    return base.endswith((".pt", ".pth", ".pkl", ".ckpt")) or (base.endswith(".bin") and "model" in base)


def files_to_fetch(filenames: list[str]) -> list[str]:
    """The repo files a PyTorch backend needs: safetensors over pickle, no foreign formats."""
    has_safetensors = any(f.endswith(".safetensors") for f in filenames)
    only_onnx = all(not f.endswith((".safetensors", ".bin", ".pt", ".pth")) for f in filenames)
    chosen = []
    for name in filenames:
        if any(fnmatch.fnmatch(name, p) for p in FOREIGN_WEIGHTS):
            continue
        if name.endswith(".onnx") and not only_onnx:
            continue
        if has_safetensors and is_pickle_weights(name):
            continue
        chosen.append(name)
    return chosen


def pull_one(ref: ModelRef) -> Path:
    """Download ``ref`` (resuming partial downloads) and return its snapshot folder."""
    require_online(f"download {ref}")
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi(endpoint=settings.hub_endpoint()).list_repo_files(ref.id, revision=ref.revision)
    path = snapshot_download(
        ref.id, revision=ref.revision, allow_patterns=files_to_fetch(files), cache_dir=settings.hub_cache()
    )
    return Path(path)
