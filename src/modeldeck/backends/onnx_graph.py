"""Running a stored ONNX graph as a stand-in for a transformers encoder: named outputs like a ModelOutput,
rows of a padded batch in length groups, one CPU session per graph that never spins between runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from .. import runtimes


class Outputs(dict):
    """Named outputs, read as attributes (``out.logits``) or by position (``out[0]``), like a ModelOutput."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


class OnnxModel:
    """An ONNX Runtime session standing in for a transformers encoder (CPU)."""

    runtime = "onnx"
    device = "cpu"

    def __init__(self, folder: Path, config: Any = None, path: Path | None = None):
        meta = json.loads((folder / "meta.json").read_text())
        self.inputs, self.outputs = meta["inputs"], meta["outputs"]
        self.precision = meta["precision"]
        self.agreement = meta.get("agreement")
        self.graph = meta.get("graph", "plain")
        self.folder = folder
        self.config = config
        self.session = session(path or folder / "model.onnx")

    def run(self, feeds: dict[str, Any]) -> list:
        """The graph's outputs (numpy) for ``feeds`` (tensors or arrays; only the graph's inputs are used)."""
        import numpy as np

        arrays = {n: np.ascontiguousarray(_numpy(feeds[n]), dtype=np.int64) for n in self.inputs if n in feeds}
        if "token_type_ids" in self.inputs and "token_type_ids" not in arrays:
            arrays["token_type_ids"] = np.zeros_like(arrays["input_ids"])
        groups = length_groups(arrays.get("attention_mask"))
        if groups is None:
            return self.session.run(self.outputs, arrays)
        # Rows sorted by length, in groups each cut to its own longest row; outputs put back in order.
        width = arrays["input_ids"].shape[1]
        parts = [(rows, self.session.run(self.outputs, {n: a[rows, :length] for n, a in arrays.items()}))
                 for rows, length in groups]
        out = []
        for k in range(len(self.outputs)):
            first = parts[0][1][k]
            token_level = first.ndim >= 2 and first.shape[1] == groups[0][1]
            shape = (len(arrays["input_ids"]), width, *first.shape[2:]) if token_level else (len(arrays["input_ids"]), *first.shape[1:])
            whole = np.zeros(shape, dtype=first.dtype)
            for rows, values in parts:
                if token_level:
                    whole[rows, : values[k].shape[1]] = values[k]
                else:
                    whole[rows] = values[k]
            out.append(whole)
        return out

    def __call__(self, **encoded: Any) -> Outputs:
        import torch

        return Outputs((name, torch.from_numpy(value)) for name, value in zip(self.outputs, self.run(encoded)))

    def eval(self):
        return self


GROUP_SHRINK = 0.75  # a new group starts where a row is under 3/4 of its group's longest
GROUP_MIN_ROWS = 4


def length_groups(mask) -> list[tuple[Any, int]] | None:
    """(row indices, length) groups of a right-padded batch sorted by length, or None when one pass is as
    good (one row, lengths close together, or a mask that is not right padding)."""
    import numpy as np

    if mask is None or len(mask) < 2 * GROUP_MIN_ROWS:
        return None
    lengths = mask.sum(1)
    if lengths.min() >= GROUP_SHRINK * lengths.max():
        return None
    if not all(mask[i, : lengths[i]].all() for i in range(len(mask))):
        return None  # left padding (or holes): run as given
    order = np.argsort(-lengths, kind="stable")
    groups, start = [], 0
    for i in range(1, len(order) + 1):
        if i == len(order) or (i - start >= GROUP_MIN_ROWS and lengths[order[i]] < GROUP_SHRINK * lengths[order[start]]):
            groups.append((order[start:i], int(lengths[order[start]])))
            start = i
    return groups if len(groups) > 1 else None


def _numpy(value):
    return value.numpy() if hasattr(value, "numpy") else value


_session_lock = threading.Lock()


def session(path: Path):
    """An ONNX Runtime session on the CPU: intra-op threads = physical cores, no spinning between runs
    (a spinning pool would steal the cores from torch or another runtime in the same process)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = runtimes.cpu_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    with _session_lock:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
