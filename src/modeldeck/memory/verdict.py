"""What ``modeldeck estimate`` says about a model: its weights, the predicted memory in each dtype, and
whether it fits here now."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import InvalidInput
from .budget import free_memory, gpu_memory, memory_budget
from .folders import is_pipeline, predicted_size
from .headers import Weights, local_weights, remote_weights
from .predict import LOAD_DTYPES, check_dtype, load_dtype, predict_bytes, rule_bytes
from .units import MiB, format_bytes

# What a fresh process pays once before its first model: torch, transformers and
# the modeling code (bench/memory.py: about 380 MB). Counted in the fit verdict
# when this process has not imported torch yet (the model will load elsewhere).
RUNTIME_OVERHEAD = 400 * MiB


@dataclass
class Estimate:
    """Everything ``modeldeck estimate`` says about one model."""

    model: str
    source: str
    revision: str | None
    device: str
    dtype: str
    exact: bool
    parameters: int | None
    params_by_dtype: dict[str, int]
    weight_files: dict[str, int]
    weights_bytes: int
    predicted_bytes: int  # RAM on CPU, GPU memory on CUDA
    rule_bytes: int
    available_bytes: int | None  # free RAM (CPU) or free GPU memory (CUDA)
    budget_bytes: int | None
    fits: bool | None
    verdict: str
    by_dtype: dict[str, int] = field(default_factory=dict)  # predicted bytes for each loadable dtype

    def to_dict(self) -> dict:
        return asdict(self)


def estimate(model, dtype: str | None = None, device: str | None = None, check_fit: bool = True) -> Estimate:
    """Predict ``model``'s memory in ``dtype`` on ``device`` and say whether it fits here now."""
    from .. import hub
    from ..backends.device import device_name, pick_device
    from ..integrity import broken_verdict

    device = device_name(device)  # the same names run takes; a device absent here still gets a prediction
    ref = model if isinstance(model, hub.ModelRef) else hub.ModelRef.parse(model)
    found = hub.locate(ref, unavailable=", so its headers cannot be read")  # None: its headers are on the hub
    folder = found.path if found is not None else None
    broken = broken_verdict(folder, ref.id) if folder is not None else None  # a broken copy never "fits"
    weights = weights_at(ref, found)
    device = pick_device(device) if device == "auto" else device
    dtype = dtype or load_dtype(device)
    check_dtype(dtype)
    if folder is not None and is_pipeline(folder):
        # a pipeline of several models (or min-dalle's variants): the loader's own prediction
        if dtype == "int8":  # diffusers and min-dalle load in float only: an int8 figure would be fp32's
            raise InvalidInput(f"{weights.model} is not loaded in int8 (image generation runs in fp32, fp16 or bf16).",
                               "Leave --dtype out, or pick fp32, fp16 or bf16.")
        predicted = predicted_size(folder, device, weights.model, dtype)
        by_dtype = {}
        if (folder / "model_index.json").is_file():
            by_dtype = {d: predicted_size(folder, device, weights.model, d) for d in ("fp32", "fp16", "bf16")}
    else:
        predicted = predict_bytes(weights, dtype, device)
        by_dtype = {d: predict_bytes(weights, d, device) for d in LOAD_DTYPES} if weights.exact else {}

    available = budget = fits = None
    verdict = "not checked"
    if check_fit:
        if device.startswith("cuda"):
            gpus = gpu_memory()
            index = int(device.split(":")[1]) if ":" in device else 0
            if index < len(gpus):
                available = gpus[index]["free"]
                budget = memory_budget(device)
        else:
            budget = memory_budget(device)
            available = free_memory(gpu=False)["ram_available"]
        # A fresh process also pays for torch and transformers before the model (once; not on the GPU).
        runtime = 0 if device.startswith("cuda") else RUNTIME_OVERHEAD
        verdict, fits = judge(predicted, available, budget, device, runtime)
    if broken:
        verdict, fits = broken, False
    return Estimate(
        model=weights.model, source=weights.source, revision=weights.revision, device=device, dtype=dtype,
        exact=weights.exact, parameters=weights.parameters, params_by_dtype=weights.params_by_dtype,
        weight_files=weights.files, weights_bytes=weights.weights_bytes, predicted_bytes=predicted,
        rule_bytes=rule_bytes(weights), available_bytes=available, budget_bytes=budget, fits=fits,
        verdict=verdict, by_dtype=by_dtype,
    )


def model_weights(model) -> Weights:
    """Weights of ``model`` without loading or downloading them, found where ``hub.resolve`` looks, in the
    same order (``hub.locate``): headers are read remotely where resolve would download."""
    from .. import hub

    ref = model if isinstance(model, hub.ModelRef) else hub.ModelRef.parse(model)
    return weights_at(ref, hub.locate(ref, unavailable=", so its headers cannot be read"))


def weights_at(ref, found) -> Weights:
    """Weights of ``ref`` where ``hub.locate`` found it (None: on the hub)."""
    if found is None:
        return remote_weights(ref)
    return local_weights(found.path, ref.id, found.source, found.path.name if found.source == "cache" else None)


def judge(
    predicted: int, available: int | None, budget: int | None, device: str, runtime: int = 0
) -> tuple[str, bool | None]:
    """A one-line verdict: does ``predicted`` (plus a fresh process's ``runtime``) fit in what is free
    now, and in modeldeck's budget?"""
    where = "GPU memory" if device.startswith("cuda") else "RAM"
    if available is None:
        return f"cannot tell: no {device} memory figures on this machine", None
    needed = predicted + runtime
    share = needed / available if available else float("inf")
    if runtime:
        where_runtime = f" with ~{format_bytes(runtime)} for torch/transformers"
    else:
        where_runtime = ""
    if needed > available:
        verdict, fits = (
            f"does not fit: needs {format_bytes(needed)}{where_runtime}, {format_bytes(available)} of {where} free",
            False,
        )
    elif share > 0.8:
        verdict, fits = f"tight: fits, using {share:.0%} of the free {where}{where_runtime}", True
    else:
        verdict, fits = f"fits: uses {share:.0%} of the free {where}{where_runtime}", True
    if budget is not None and predicted > budget:
        verdict += f"; over modeldeck's memory budget ({format_bytes(budget)}, MODELDECK_MEMORY_BUDGET)"
        fits = False
    return verdict, fits
