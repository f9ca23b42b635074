"""How much memory a model needs, known before its weights are loaded or even downloaded.

The Hugging Face course's rule of thumb is "weights file size x 1.2". modeldeck reads the
safetensors headers instead (a few kilobytes at the start of each file: from
the cache, from a package, or from the hub with an HTTP Range request), so it
knows every tensor's dtype and element count. The prediction is then the
tensors in the dtype modeldeck will load them in (fp32 on CPU, bf16/fp16 on
GPU; a float16 checkpoint loaded on a CPU doubles, which the file size cannot
tell), plus a small fixed cost per loaded model (its Python code and
allocator slack). ``bench/memory.py`` measures it against resident memory.

Everything here is cheap: no torch import unless a GPU question is asked.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import settings
from .errors import InvalidInput, ModeldeckError, ModelNotAvailable, RevisionNotFound

KiB, MiB, GiB = 1024, 1024**2, 1024**3

# Bytes per element for every safetensors dtype.
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "F4": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    "C64": 8, "C128": 16,
}
FLOATS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4"}
# The dtypes a user can ask for, and the safetensors dtype each loads into.
LOAD_DTYPES = {"fp32": "F32", "fp16": "F16", "bf16": "BF16", "int8": "I8"}

# The fixed cost of loading one model beyond its tensors: the model's Python
# code, buffers not stored in the checkpoint (position ids, masks) and
# allocator slack. bench/memory.py measures 10-16 MB (growth minus tensor bytes).
LOAD_OVERHEAD = 16 * MiB
# What a fresh process pays once before its first model: torch, transformers and
# the modeling code (bench/memory.py: about 380 MB). Counted in the fit verdict
# when this process has not imported torch yet (the model will load elsewhere).
RUNTIME_OVERHEAD = 400 * MiB
# On a GPU the caching allocator rounds blocks up; a few percent on top.
GPU_SLACK = 1.03
# The Hugging Face course's rule of thumb: "look at the pytorch_model.bin file size, multiply by 1.2".
RULE_FACTOR = 1.2
# Names of weights int8 leaves in float: embeddings, norms (LayerNorm too), convolutions, biases. Every other
# weight matrix is stored in one byte per element (CTranslate2's int8, dynamic int8 of nn.Linear), whatever its
# size: a tiny model's matrices are quantized as a large one's are.
NOT_LINEAR = re.compile(r"embed|wte|wpe|shared|position|token_type|norm|ln_|conv|patch|\.bias$", re.IGNORECASE)


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str  # safetensors dtype: F32, F16, BF16, I64...
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES.get(self.dtype, 4)


@dataclass
class Weights:
    """A model's weight files and, when they are safetensors, every tensor in them."""

    model: str
    source: str  # "folder", "cache", "package" or "hub" (headers read remotely)
    files: dict[str, int]  # weight file (repo path) -> size in bytes
    tensors: list[Tensor] | None = None  # None: not safetensors, only file sizes are known
    revision: str | None = None

    @property
    def exact(self) -> bool:
        return self.tensors is not None

    @property
    def weights_bytes(self) -> int:
        return sum(self.files.values())

    @property
    def parameters(self) -> int | None:
        """Floating-point elements: the weights (integer tensors are saved buffers like position ids)."""
        return None if self.tensors is None else sum(t.numel for t in self.tensors if t.dtype in FLOATS)

    @property
    def params_by_dtype(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for t in self.tensors or ():
            found[t.dtype] = found.get(t.dtype, 0) + t.numel
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))


# -- reading safetensors headers --------------------------------------------------------------


def parse_header(raw: bytes, where: str = "") -> list[Tensor]:
    """Tensors from a safetensors JSON header."""
    try:
        header = json.loads(raw)
    except ValueError as e:
        raise InvalidInput(f"{where} is not a valid safetensors file (bad header: {e}).") from e
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        numel = 1
        for dim in info["shape"]:
            numel *= dim
        tensors.append(Tensor(name, info["dtype"], numel))
    return tensors


def read_header(path: Path) -> list[Tensor]:
    """The tensors of a local safetensors file, reading only its header."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise InvalidInput(f"{path} is not a valid safetensors file (too short).")
        (size,) = struct.unpack("<Q", head)
        if size > 100 * MiB:
            raise InvalidInput(f"{path} is not a valid safetensors file (header of {size} bytes).")
        return parse_header(f.read(size), str(path))


def weight_files(names: list[str]) -> list[str]:
    """The files among ``names`` that modeldeck would load weights from."""
    from .download import files_to_fetch, is_weights

    chosen = files_to_fetch(names)
    safetensors = [n for n in chosen if n.endswith(".safetensors")]
    if safetensors:
        return safetensors
    return [n for n in chosen if is_weights(n) or n.endswith((".onnx", ".bin"))]


def local_weights(folder: Path, model: str = "", source: str = "folder", revision: str | None = None) -> Weights:
    """Weights of a model folder on this machine (headers only, nothing loaded)."""
    folder = Path(folder)
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    files = {name: (folder / name).stat().st_size for name in weight_files(names)}
    if not files:
        raise ModelNotAvailable(f"No weight files in {folder}.", "Is this a model folder? Pull it again to repair it.")
    tensors = None
    if all(name.endswith(".safetensors") for name in files):
        tensors = [t for name in files for t in read_header(folder / name)]
    return Weights(model or str(folder), source, files, tensors, revision)


def remote_weights(ref) -> Weights:
    """Weights of a hub model, read with HTTP Range requests: no weights are downloaded."""
    from . import hub
    from .download import hub_api, hub_errors, network_errors, plan_pull

    api = hub_api()
    plan = plan_pull(ref)  # the files a pull would fetch, with their sizes
    repo_id = hub.split_subpath(ref.id)[0]
    try:
        files = {name: plan.files[name] or 0 for name in weight_files(list(plan.files))}
        if not files:
            raise ModelNotAvailable(f"{ref.id} has no weight files modeldeck can load.", "Check the model id.")
        tensors = None
        if all(name.endswith(".safetensors") for name in files):
            tensors = []
            for name in files:
                meta = api.parse_safetensors_file_metadata(repo_id, name, revision=plan.commit)
                tensors += [Tensor(n, t.dtype, _numel(t.shape)) for n, t in meta.tensors.items()]
    except ModeldeckError:
        raise
    except network_errors() as e:
        raise hub_errors(ref, e) from e
    return Weights(ref.id, "hub", files, tensors, plan.commit)


def _numel(shape) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def model_weights(model) -> Weights:
    """Weights of ``model`` without loading or downloading them.

    Looks where ``hub.resolve`` looks, in the same order: a folder, the
    Hugging Face cache, the hub (headers only) when it is reachable, then a
    package that ships the model.
    """
    from . import hub

    ref = model if isinstance(model, hub.ModelRef) else hub.ModelRef.parse(model)
    if ref.path is not None:
        return local_weights(ref.path, ref.id, "folder")
    cached = hub.cached_snapshot(ref)
    if cached is not None:
        return local_weights(cached, ref.id, "cache", cached.name)
    offline = hub.is_offline()
    if not offline:
        return remote_weights(ref)
    packaged = hub.packaged_path(ref.id)
    if packaged is not None and ref.revision is None:
        return local_weights(packaged, ref.id, "package")
    if ref.revision is not None and hub.cached_snapshot(hub.ModelRef(ref.id)) is not None:
        raise RevisionNotFound(f"{ref.id} is cached, but not at revision {ref.revision!r}.", hub.offline_hint(str(ref)))
    raise ModelNotAvailable(
        f"Model {ref} is not in the Hugging Face cache ({settings.hub_cache()}) and the hub is not reachable, "
        "so its headers cannot be read.",
        hub.offline_hint(str(ref)),
    )


# -- predicting ---------------------------------------------------------------------------------


def load_dtype(device: str) -> str:
    """The dtype modeldeck loads in on ``device`` when no task says otherwise (see modeldeck.dtypes):
    MODELDECK_DTYPE when set, else fp32 on a CPU and bf16 (where supported) or fp16 on a GPU."""
    from .dtypes import current

    return current(device)


def tensor_bytes(weights: Weights, dtype: str) -> int:
    """Bytes the tensors take once loaded in ``dtype`` (float tensors convert, the rest keep theirs)."""
    if dtype not in LOAD_DTYPES:
        raise InvalidInput(f"Unknown dtype {dtype!r}.", f"Choose one of: {', '.join(LOAD_DTYPES)}.")
    if weights.tensors is None:
        return weights.weights_bytes  # only sizes known: assume it loads as stored
    total = 0
    for t in weights.tensors:
        if t.dtype not in FLOATS:
            total += t.nbytes
        elif dtype == "int8":
            linear = t.name.endswith("weight") and not NOT_LINEAR.search(t.name)
            total += t.numel if linear else t.numel * 4
        else:
            total += t.numel * DTYPE_BYTES[LOAD_DTYPES[dtype]]
    return total


def predict_bytes(weights: Weights, dtype: str, device: str = "cpu") -> int:
    """Predicted memory of the loaded model: RAM on CPU, GPU memory on CUDA."""
    tensors = tensor_bytes(weights, dtype)
    if device.startswith("cuda"):
        return int(tensors * GPU_SLACK)
    return tensors + LOAD_OVERHEAD


def rule_bytes(weights: Weights) -> int:
    """The Hugging Face course's rule of thumb: weights file size x 1.2."""
    return int(weights.weights_bytes * RULE_FACTOR)


def free_memory(gpu: bool = True) -> dict:
    """Available and total RAM, and free/total memory of each GPU (torch only if it is installed)."""
    import psutil

    vm = psutil.virtual_memory()
    found = {"ram_available": vm.available, "ram_total": vm.total, "gpus": []}
    if gpu:
        found["gpus"] = gpu_memory()
    return found


def gpu_memory() -> list[dict]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        gpus.append({"index": index, "name": torch.cuda.get_device_name(index), "free": free, "total": total})
    return gpus


def format_bytes(n: int | float | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}" if unit == "GB" else f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def format_count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def parse_bytes(text: str) -> int:
    """'8GB', '512 MiB', '2e9' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMgGtT]?i?[bB]?)\s*", str(text))
    if not match:
        raise InvalidInput(f"{text!r} is not a size.", "Write it like '8GB', '512MiB' or '60%'.")
    number, unit = float(match[1]), match[2].lower().rstrip("b")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": KiB, "mi": MiB, "gi": GiB, "ti": 1024**4}
    if unit not in scale:
        raise InvalidInput(f"{text!r} has an unknown unit.", "Use B, kB, MB, GB, MiB or GiB.")
    return int(number * scale[unit])


# -- the whole answer -------------------------------------------------------------------------------


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
    from .backends.device import device_name, pick_device
    from .integrity import broken_verdict

    device = device_name(device)  # the same names run takes; a device absent here still gets a prediction
    broken = broken_verdict(model)  # a cached copy with a broken file never "fits"
    weights = model_weights(model)
    device = pick_device(device) if device == "auto" else device
    dtype = dtype or load_dtype(device)
    if dtype not in LOAD_DTYPES:
        raise InvalidInput(f"Unknown dtype {dtype!r}.", f"Choose one of: {', '.join(LOAD_DTYPES)}.")
    predicted = predict_bytes(weights, dtype, device)
    folder = _local_folder(model) if weights.source != "hub" else None
    if folder is not None and ((folder / "model_index.json").is_file() or any(folder.glob("detoker*.pt"))):
        # a pipeline of several models (or min-dalle's variants): the loader's own prediction
        if dtype == "int8":  # diffusers and min-dalle load in float only: an int8 figure would be fp32's
            raise InvalidInput(f"{weights.model} is not loaded in int8 (image generation runs in fp32, fp16 or bf16).",
                               "Leave --dtype out, or pick fp32, fp16 or bf16.")
        predicted = predicted_size(folder, device, weights.model)
        by_pipeline = {}
        if (folder / "model_index.json").is_file():
            by_pipeline = {d: predict_pipeline_bytes(folder, d, device) for d in ("fp32", "fp16", "bf16")}
        by_dtype = by_pipeline
        predicted = by_pipeline.get(dtype, predicted)
    else:
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


# -- the budget loaded models live under (the pool's) -------------------------------------------

DEFAULT_SHARE = 0.70


def memory_budget(device: str = "cpu") -> int | None:
    """Bytes of memory modeldeck may fill with models on ``device`` (None: no limit)."""
    text = os.environ.get("MODELDECK_MEMORY_BUDGET", "").strip()
    if text.lower() in {"none", "off", "unlimited", "0"}:
        return None
    share = DEFAULT_SHARE
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            share = -1
        if not 0 < share <= 1:
            raise InvalidInput(
                f"MODELDECK_MEMORY_BUDGET={text!r} is not a share between 1% and 100%.",
                "Write it like '60%', '16GB' or 'none'.",
            )
    elif text:
        return parse_bytes(text)
    return int(device_memory(device) * share)


def device_memory(device: str) -> int:
    """Total memory of ``device``: RAM for the CPU (and MPS, which shares it), the GPU's own for CUDA."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).total_memory
    import psutil

    return psutil.virtual_memory().total


def predicted_size(path, device: str, model_id: str = "", dtype: str | None = None) -> int:
    """Predicted resident memory of the model in folder ``path`` on ``device`` loaded in ``dtype``
    (default: ``load_dtype(device)``; headers only).

    A diffusers pipeline counts all its parts and one generation's working memory; a min-dalle
    variant its own files only."""
    path = Path(path)
    if (path / "model_index.json").is_file():
        return predict_pipeline_bytes(path, dtype or load_dtype(device), device)
    if model_id and any(path.glob("detoker*.pt")):
        from .backends.min_dalle import predict_bytes as min_dalle_bytes

        return min_dalle_bytes(path, model_id, 2 if device.startswith("cuda") else 4)
    try:
        weights = local_weights(Path(path))
    except (ModeldeckError, OSError):
        return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return predict_bytes(weights, dtype or load_dtype(device), device)


def device_kind(device: str) -> str:
    return device if device.startswith("cuda") else "cpu"  # MPS shares RAM with the CPU


def _local_folder(model) -> Path | None:
    """The model's folder on this machine (a folder, the cache, a package), without downloading or
    counting it as used; None when it is not here."""
    from . import hub

    ref = hub.ModelRef.parse(str(model))
    folder = ref.path or hub.cached_snapshot(ref) or (hub.packaged_path(ref.id) if ref.revision is None else None)
    return Path(folder) if folder is not None else None


# -- diffusers pipelines: several models in one folder ------------------------------------------------

# The parts of a pipeline that hold weights (the tokenizer, scheduler and feature extractor hold none).
PIPELINE_PARTS = ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "safety_checker", "image_encoder")


def _part_weights(folder: Path) -> list[Path]:
    """The weights file(s) diffusers loads for one part: safetensors over .bin, plain over fp16/non-EMA."""
    from .download import VARIANT

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
        if not files:
            continue
        if all(f.suffix == ".safetensors" for f in files):
            tensors = [t for f in files for t in read_header(f)]
            weights = Weights(str(sub), "folder", {f.name: f.stat().st_size for f in files}, tensors)
        else:
            weights = Weights(str(sub), "folder", {f.name: f.stat().st_size for f in files}, None)
        total += predict_bytes(weights, dtype, device)
    return total + working_bytes(dtype, device)


def working_bytes(dtype: str, device: str, side: int = 512) -> int:
    """Memory one generation at ``side`` x ``side`` takes beyond the weights (bench/diffusion.py measures it):
    the VAE decoder's activations dominate (128-512 channels at full resolution, a few at a time)."""
    per = 2 if dtype in ("fp16", "bf16") else 4
    pixels = side * side
    # decoder: the widest full-resolution stage holds ~3 activations of 128 channels at once, and the
    # half-resolution ones 256; the UNet's activations at 1/64 the pixels are small beside them.
    return int(pixels * per * (128 * 3 + 256 * 3 // 4) * (1.0 if device.startswith("cuda") else 1.0))
