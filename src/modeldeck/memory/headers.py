"""A model's weights without loading them: its weight files and, for safetensors, every tensor's dtype and size.

Only the headers are read (a few kilobytes at the start of each file): from a folder, the cache, a
package, or the hub with HTTP Range requests.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, ModeldeckError, ModelNotAvailable
from ..refs import split_subpath
from .units import MiB

# Bytes per element for every safetensors dtype.
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "F4": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    "C64": 8, "C128": 16,
}
FLOATS = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4"}


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
        tensors.append(Tensor(name, info["dtype"], _numel(info["shape"])))
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
    from ..download import files_to_fetch, is_weights

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
    return Weights(model or str(folder), source, files, read_tensors([folder / name for name in files]), revision)


def read_tensors(paths: list[Path]) -> list[Tensor] | None:
    """Every tensor in these weight files, or None unless they are all safetensors (then only sizes are known)."""
    if not all(path.name.endswith(".safetensors") for path in paths):
        return None
    return [t for path in paths for t in read_header(path)]


def remote_weights(ref) -> Weights:
    """Weights of a hub model, read with HTTP Range requests: no weights are downloaded."""
    from ..download import hub_api, hub_errors, network_errors, plan_pull

    api = hub_api()
    plan = plan_pull(ref)  # the files a pull would fetch, with their sizes
    repo_id = split_subpath(ref.id)[0]
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
