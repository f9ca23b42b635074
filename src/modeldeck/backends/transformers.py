"""Load transformers models and processors from a local folder, safely.

Two things can run someone else's code when a model loads: ``trust_remote_code``
(Python files shipped in the repo) and pickle checkpoints (``.bin``/``.pt``).
Both are refused unless the user allowed them for that model:

- Python: ``modeldeck.load(task, model, trust_remote_code=True)`` or
  ``allow_pickle=True`` (the pool passes these down through ``allowing``);
- anywhere (CLI, UI, scripts): ``MODELDECK_TRUST_REMOTE_CODE=org/name[,org/other]``
  and ``MODELDECK_ALLOW_PICKLE=org/name[,...]``.

Even an allowed pickle is loaded with ``weights_only=True``: tensors only,
never arbitrary objects.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UnsafeModel
from ..dtypes import pick_dtype


@dataclass(frozen=True)
class Permissions:
    model_id: str | None = None
    allow_pickle: bool = False
    trust_remote_code: bool = False


_current: ContextVar[Permissions] = ContextVar("modeldeck_permissions", default=Permissions())


@contextmanager
def allowing(model_id: str | None, *, allow_pickle: bool = False, trust_remote_code: bool = False,
             task: tuple[str, str] | None = None):
    """Within this block, loads are for ``model_id`` with these permissions, for ``task`` ((name, default
    model): named when a checkpoint lacks the task's head). Used by the pool."""
    from ..heads import loading_task

    token = _current.set(Permissions(model_id, bool(allow_pickle), bool(trust_remote_code)))
    task_token = loading_task.set(task)
    try:
        yield
    finally:
        loading_task.reset(task_token)
        _current.reset(token)


def model_id_for(path: Path) -> str:
    """The hub id a folder belongs to (the pool says; else read from the cache layout)."""
    if _current.get().model_id:
        return _current.get().model_id
    for part in Path(path).parts:
        if part.startswith("models--"):
            return part[len("models--") :].replace("--", "/")
    return str(path)


def _env_allows(variable: str, model_id: str) -> bool:
    allowed = {m.strip() for m in os.environ.get(variable, "").split(",") if m.strip()}
    return model_id in allowed or model_id.split("@")[0] in allowed


def pickle_allowed(path: Path) -> bool:
    return _current.get().allow_pickle or _env_allows("MODELDECK_ALLOW_PICKLE", model_id_for(path))


def remote_code_allowed(path: Path) -> bool:
    return _current.get().trust_remote_code or _env_allows("MODELDECK_TRUST_REMOTE_CODE", model_id_for(path))


def has_safetensors(path: Path) -> bool:
    return any(path.glob("*.safetensors"))


def pickle_weights(path: Path) -> list[Path]:
    return sorted([p for p in path.glob("*.bin") if "model" in p.name] + list(path.glob("*.pt")) + list(path.glob("*.pth")))


def check_safe(path: Path, allow_pickle: bool = False) -> None:
    """Refuse pickle-only checkpoints unless the user allowed them for this model."""
    pickles = pickle_weights(path)
    if pickles and not has_safetensors(path) and not (allow_pickle or pickle_allowed(path)):
        model = model_id_for(path)
        raise UnsafeModel(
            f"{model} has only pickle weights ({pickles[0].name}), no safetensors; modeldeck does not load "
            "pickle files unless you allow it for this model.",
            f"If you trust it, allow it: --allow-pickle (or MODELDECK_ALLOW_PICKLE={model}; Python: "
            "modeldeck.load(..., allow_pickle=True)). Even then only tensors are read (weights_only).",
        )


def needs_remote_code(path: Path) -> bool:
    """True when the model's architecture exists only as Python code in its repo."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        return False
    try:
        config = json.loads(config_file.read_text())
    except ValueError:
        return False
    if not config.get("auto_map"):
        return False
    from transformers import CONFIG_MAPPING

    return config.get("model_type") not in CONFIG_MAPPING


def check_remote_code(path: Path, trust_remote_code: bool = False) -> bool:
    """Whether to pass ``trust_remote_code=True``; refuse when the model needs it and it is not allowed."""
    if not needs_remote_code(path):
        return False
    if trust_remote_code or remote_code_allowed(path):
        return True
    model = model_id_for(path)
    raise UnsafeModel(
        f"{model} needs to run Python code from its repo (trust_remote_code): its architecture is not part of "
        "transformers. modeldeck does not run a repo's code unless you allow it for that model.",
        f"Read the code first; if you trust it, allow it: --trust-remote-code (or "
        f"MODELDECK_TRUST_REMOTE_CODE={model}; Python: modeldeck.load(..., trust_remote_code=True)).",
    )


def load_model(
    cls: Any, path: Path, device: str, *, allow_pickle: bool = False, trust_remote_code: bool = False,
    dtype: Any = None, **kwargs: Any,
):
    """``cls.from_pretrained(path)`` on ``device`` in eval mode; remote code and pickle only when allowed."""
    from . import tune_allocator

    path = Path(path)
    check_safe(path, allow_pickle)
    remote = check_remote_code(path, trust_remote_code)
    tune_allocator()
    kwargs.pop("weights_only", None)  # never unpickle arbitrary objects
    try:
        model = cls.from_pretrained(
            path,
            dtype=dtype or pick_dtype(device),
            trust_remote_code=remote,
            use_safetensors=has_safetensors(path) or None,
            weights_only=True,
            output_loading_info=True,
            **kwargs,
        )
    except Exception as e:
        import pickle

        if isinstance(e, pickle.UnpicklingError) or isinstance(e.__cause__, pickle.UnpicklingError):
            raise UnsafeModel(
                f"{model_id_for(path)}'s pickle weights hold more than tensors, so modeldeck refuses them "
                f"(weights_only loading failed: {str(e).splitlines()[0][:200]}).",
                "Use a safetensors version of this model.",
            ) from e
        raise
    model, info = model
    from ..heads import check_loaded

    check_loaded(model_id_for(path), path, info.get("missing_keys") or ())  # never a randomly initialised head
    model = model.to(device).eval()
    if getattr(model, "dtype", None) is not None and str(model.dtype) in ("torch.bfloat16", "torch.float16"):
        cast_float_inputs(model)
    return model


def cast_float_inputs(model, depth: int = 2) -> None:
    """Float32 tensors handed to a bf16/fp16 model (pictures, audio features) are cast to its dtype on the
    way in: hooks on the model and its first ``depth`` levels of submodules, where tasks hand inputs in
    (``model(...)``, ``model.get_audio_features(...)``, ``model.vision_model(...)``). Outputs stay as
    the model makes them; the tasks read them as float."""
    import torch

    dtype = model.dtype

    def cast(value):
        if isinstance(value, torch.Tensor) and value.dtype in (torch.float32, torch.float64):
            return value.to(dtype)
        return value

    def hook(module, args, kwargs):
        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    level = [model]
    for _ in range(depth + 1):
        for module in level:
            module.register_forward_pre_hook(hook, with_kwargs=True)
        level = [child for module in level for child in module.children()]


def load_processor(cls: Any, path: Path, *, trust_remote_code: bool = False, **kwargs: Any):
    """A tokenizer or processor from the same folder; remote code only when allowed."""
    return cls.from_pretrained(path, trust_remote_code=check_remote_code(Path(path), trust_remote_code), **kwargs)


def pad_batch(tokenizer: Any, items: list[dict]) -> dict:
    """Tokenized texts as one padded batch of tensors, as ``tokenizer.pad`` makes it but without its
    per-item Python work (it runs on the engine's worker, once per forward pass)."""
    import torch

    longest = max(len(item["input_ids"]) for item in items)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    fill = {"input_ids": tokenizer.pad_token_id or 0, "attention_mask": 0, "token_type_ids": 0}
    batch = {}
    for name in items[0]:
        rows = []
        for item in items:
            values, gap = list(item[name]), [fill.get(name, 0)] * (longest - len(item[name]))
            rows.append(gap + values if left else values + gap)
        batch[name] = torch.tensor(rows, dtype=torch.long)
    return batch
