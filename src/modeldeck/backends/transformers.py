"""Load transformers models and processors from a local folder, safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UnsafeModel
from .device import pick_dtype


def has_safetensors(path: Path) -> bool:
    return any(path.glob("*.safetensors"))


def check_safe(path: Path, allow_pickle: bool = False) -> None:
    """Refuse pickle-only checkpoints unless the user allowed them."""
    pickles = [p for p in path.glob("*.bin") if "model" in p.name] + list(path.glob("*.pt"))
    if pickles and not has_safetensors(path) and not allow_pickle:
        raise UnsafeModel(
            f"{path.name} has only pickle weights ({pickles[0].name}); loading pickle can run code.",
            "If you trust this model, pass allow_pickle=True (CLI: --allow-pickle).",
        )


def load_model(cls: Any, path: Path, device: str, *, allow_pickle: bool = False, dtype: Any = None, **kwargs: Any):
    """``cls.from_pretrained(path)`` on ``device`` in eval mode, remote code off."""
    check_safe(path, allow_pickle)
    model = cls.from_pretrained(
        path,
        dtype=dtype or pick_dtype(device),
        trust_remote_code=False,
        use_safetensors=has_safetensors(path) or None,
        **kwargs,
    )
    return model.to(device).eval()


def load_processor(cls: Any, path: Path, **kwargs: Any):
    """A tokenizer or processor from the same folder, remote code off."""
    return cls.from_pretrained(path, trust_remote_code=False, **kwargs)
