"""Which runtime runs a model: torch, or a CPU fast path (ONNX Runtime for encoders, CTranslate2 for generation).

The choice is a load option (``modeldeck.load(task, model, runtime="onnx", quantize="int8")``,
``modeldeck run TASK --runtime onnx --quantize int8``, or ``MODELDECK_RUNTIME``):

- ``torch``: the model as transformers / sentence-transformers run it;
- ``onnx`` / ``ctranslate2``: the fast runtime, its graph made locally from the cached weights on first
  use (or ``modeldeck pull --runtime ...``) and stored under modeldeck's home; a graph that cannot be
  made, or that disagrees with torch on a sample, falls back to torch with a notice;
- ``auto`` (default): the fast runtime when a stored graph for this model (and precision) already
  exists, else torch. So nothing slow happens behind a user's back: the first export is asked for once.

Fast paths run on the CPU only; a GPU device keeps torch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput, did_you_mean

RUNTIMES = ("auto", "torch", "onnx", "ctranslate2")
PRECISIONS = ("fp32", "int8")
# The fast runtime of each task that has one.
FAST = {
    "feature-extraction": "onnx",
    "sentence-similarity": "onnx",
    "text-classification": "onnx",
    "fill-mask": "onnx",
    "question-answering": "onnx",
    "text-generation": "ctranslate2",
    "summarization": "ctranslate2",
    "translation": "ctranslate2",
}
# Bumped when the way a graph is made changes, so old stored graphs are not reused.
FORMAT = {"onnx": 2, "ctranslate2": 1}  # onnx 2: TorchScript export + ONNX Runtime fusions, timed
PACKAGES = {"onnx": ("onnxruntime", "onnx", "onnxscript"), "ctranslate2": ("ctranslate2",)}


@dataclass(frozen=True)
class Choice:
    """The runtime and precision a load uses, and whether a graph may be made now (not only reused)."""

    runtime: str
    precision: str = "fp32"
    build: bool = False  # asked for by name: make the graph when none is stored


def check_options(options: dict) -> None:
    """Refuse a runtime or quantize value modeldeck does not know (before anything loads)."""
    runtime = options.get("runtime")
    if runtime is not None and runtime not in RUNTIMES:
        raise InvalidInput(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}.", did_you_mean(str(runtime), RUNTIMES))
    quantize = options.get("quantize")
    if quantize is not None and quantize not in ("int8", "none"):
        raise InvalidInput(f"quantize must be 'int8' (or 'none'), not {quantize!r}.")


def requested(options: dict) -> str:
    """The runtime asked for: the load option, else MODELDECK_RUNTIME, else auto."""
    value = options.get("runtime") or os.environ.get("MODELDECK_RUNTIME", "").strip().lower() or "auto"
    if value not in RUNTIMES:
        raise InvalidInput(f"MODELDECK_RUNTIME={value!r} is not one of {', '.join(RUNTIMES)}.", did_you_mean(value, RUNTIMES))
    return value


def choose(task_name: str, model_id: str, model_path: Path, device: str, options: dict) -> Choice:
    """The runtime ``task_name`` runs ``model_id`` on, from the options, the device and the stored graphs."""
    runtime = requested(options)
    precision = "int8" if options.get("quantize") == "int8" else "fp32"
    fast = FAST.get(task_name)
    if runtime not in ("auto", "torch") and runtime != fast:
        offered = f"torch or {fast}" if fast else "torch only"
        raise InvalidInput(f"{task_name} cannot run on {runtime}: it runs on {offered}.", "Use --runtime auto (the default).")
    if runtime == "torch":
        if precision == "int8":
            raise InvalidInput(
                "--quantize int8 needs a fast runtime; torch runs in full precision here.",
                f"Use --runtime {fast}" if fast else "Leave --quantize out for this task.",
            )
        return Choice("torch")
    if fast is None or not device.startswith("cpu"):
        if runtime != "auto" or precision == "int8":
            from .notices import notice

            notice(f"The {fast or 'fast'} runtime runs on the CPU only; {task_name} on {device} runs on torch.")
        return Choice("torch")
    if not installed(fast):
        if runtime == "auto" and precision == "fp32":
            return Choice("torch")
        from .errors import MissingDependency

        raise MissingDependency(
            f"The {fast} runtime needs {', '.join(PACKAGES[fast])}, which are not all installed.",
            "Install them with: pip install 'modeldeck[fast]'",
        )
    if runtime == fast or precision == "int8":
        return Choice(fast, precision, build=True)
    from .dtypes import choose as choose_dtype

    if choose_dtype(task_name, device, options) != "fp32":
        return Choice("torch")  # bf16 (asked for, or auto's pick on this CPU) runs on torch, faster than fp32 graphs
    # auto: the fast runtime only where its graph is already stored (made by an earlier run or a pull).
    path = store_path(model_id, model_path, fast, precision)
    if is_stored(path):
        return Choice(fast, precision)
    broken = broken_graph(path)
    if broken:
        from .notices import notice

        notice(f"The stored {fast} graph of {model_id} is broken ({', '.join(broken)}); running on torch. "
               f"To make it again: --runtime {fast}.")
    return Choice("torch")


def chosen_store(task, runtime: str) -> tuple[Path, str] | None:
    """(where ``task``'s ``runtime`` graph is stored, its precision) when the runtime choice for the task is
    ``runtime``; else None. Until a graph is in use the task says it runs on torch, in fp32."""
    choice = choose(task.spec.name, task.model_id, task.model_path, task.device, task.options)
    task.runtime, task.precision = "torch", "fp32"
    if choice.runtime != runtime:
        return None
    return store_path(task.model_id, task.model_path, runtime, choice.precision), choice.precision


def fallback_notice(model_id: str, runtime: str, error: Exception) -> None:
    """Say why no ``runtime`` graph could be made: the torch model runs instead."""
    from .notices import notice

    text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    notice(f"Could not make a {runtime} graph of {model_id} ({type(error).__name__}: {text}); running it on torch.")


def installed(runtime: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in PACKAGES.get(runtime, ()))


# -- where graphs are stored ------------------------------------------------------------------------


def compiled_root() -> Path:
    from .settings import modeldeck_home

    return modeldeck_home() / "compiled"


def revision(model_path: Path) -> str:
    """The model's revision: the hub snapshot's commit, else a hash of its files (small files in full,
    large ones by size, modification time and their first and last MiB)."""
    path = Path(model_path)
    if path.parent.name == "snapshots":
        return path.name
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0".encode())
        with open(file, "rb") as f:
            if stat.st_size <= 4 << 20:
                digest.update(f.read())
            else:
                digest.update(f"{stat.st_mtime_ns}".encode())
                digest.update(f.read(1 << 20))
                f.seek(-(1 << 20), os.SEEK_END)
                digest.update(f.read())
    return "content-" + digest.hexdigest()[:16]


def exporter_version(runtime: str) -> str:
    """What made the graph: the runtime's format number and the versions of the tools that make it."""
    from importlib.metadata import version

    if runtime == "onnx":
        return f"onnx{FORMAT['onnx']}-torch{version('torch')}-ort{version('onnxruntime')}"
    return f"ct2{FORMAT['ctranslate2']}-{version('ctranslate2')}-transformers{version('transformers')}"


def store_path(model_id: str, model_path: Path, runtime: str, precision: str = "fp32") -> Path:
    """Where the graph of ``model_id`` for ``runtime`` lives: compiled/<model>/<revision>/<runtime>-<version>-<precision>."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in model_id.replace("/", "--")).strip("-.") or "model"
    return compiled_root() / name[-120:] / revision(model_path) / f"{exporter_version(runtime)}-{precision}"


def is_stored(path: Path) -> bool:
    """A finished graph whose files are all there (one broken since is made again when asked for)."""
    from .layouts import graph_missing

    return (path / "DONE").is_file() and not graph_missing(path)


def broken_graph(path: Path) -> list[str]:
    """What is wrong with a finished (DONE) stored graph: "file (reason)" for each problem; [] when whole."""
    from .layouts import graph_missing

    if not (path / "DONE").is_file():
        return []
    return [f"{name} ({reason})" for name, reason in graph_missing(path)]


_building: dict[Path, threading.Lock] = {}
_building_lock = threading.Lock()


def build(path: Path, make: Callable[[Path], None]) -> Path:
    """The stored folder ``path``, made by ``make(temp_folder)`` when it is not there yet: written to a
    temporary folder beside it and renamed into place, so a crash never leaves half a graph."""
    with _building_lock:
        lock = _building.setdefault(path, threading.Lock())
    with lock:
        if is_stored(path):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
        try:
            temp.mkdir()
            make(temp)
            (temp / "DONE").write_text("ok\n")
            if path.exists():  # a broken earlier attempt (no DONE): replace it
                shutil.rmtree(path, ignore_errors=True)
            try:
                os.rename(temp, path)
            except OSError:
                if not is_stored(path):  # another process finished first otherwise
                    raise
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    return path


def stored_graphs() -> list[dict]:
    """Every stored graph: model folder name, revision, runtime tag and size (for doctor)."""
    root = compiled_root()
    rows = []
    if not root.is_dir():
        return rows
    for done in sorted(root.glob("*/*/*/DONE")):
        folder = done.parent
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append({"model": folder.parent.parent.name.replace("--", "/"), "revision": folder.parent.name,
                     "graph": folder.name, "size_bytes": size, "path": str(folder), "broken": broken_graph(folder)})
    return rows


# -- threads --------------------------------------------------------------------------------------


def cpu_threads() -> int:
    """Intra-op threads for a fast runtime: MODELDECK_THREADS, else the physical cores (hyper-threads
    only add contention for these kernels)."""
    raw = os.environ.get("MODELDECK_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
    except Exception:  # noqa: BLE001 - psutil cannot tell on some platforms
        cores = None
    return max(1, cores or os.cpu_count() or 1)
