"""ONNX Runtime for the encoder tasks: a graph exported locally from the cached weights, then run on the CPU.

The graph is exported once with torch's dynamo exporter (the older TorchScript exporter gave wrong
results on padded batches), checked against torch on a padded sample batch of mixed lengths, and
stored under modeldeck's home (see runtimes.py); later loads reuse it without touching torch weights.
int8 is not offered here (see runtimes.choose: dynamic int8 lost too much agreement). A graph that cannot be made or does not agree falls back to torch with
a notice.

What the tasks get is a stand-in for the transformers model: ``model(**encoded)`` returns an object
with the same output names as torch tensors, and ``model.config``; so each task's forward() reads
the same either way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from .. import runtimes
from ..notices import notice

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SAMPLE = ["Hello world.", "A somewhat longer sentence, so that the batch is padded.", "Short one", "x"]
TOLERANCE = 1e-3  # max |onnx - torch| on the sample, relative to the largest output value


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

    def __init__(self, folder: Path, config: Any = None):
        meta = json.loads((folder / "meta.json").read_text())
        self.inputs, self.outputs = meta["inputs"], meta["outputs"]
        self.precision = meta["precision"]
        self.agreement = meta.get("agreement")
        self.folder = folder
        self.config = config
        self.session = session(folder / "model.onnx")

    def run(self, feeds: dict[str, Any]) -> list:
        """The graph's outputs (numpy) for ``feeds`` (tensors or arrays; only the graph's inputs are used)."""
        import numpy as np

        arrays = {n: np.ascontiguousarray(_numpy(feeds[n]), dtype=np.int64) for n in self.inputs if n in feeds}
        if "token_type_ids" in self.inputs and "token_type_ids" not in arrays:
            arrays["token_type_ids"] = np.zeros_like(arrays["input_ids"])
        return self.session.run(self.outputs, arrays)

    def __call__(self, **encoded: Any) -> Outputs:
        import torch

        return Outputs((name, torch.from_numpy(value)) for name, value in zip(self.outputs, self.run(encoded)))

    def eval(self):
        return self


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


# -- export ----------------------------------------------------------------------------------------


def _wrapper(model, outputs: tuple[str, ...]):
    import torch

    class Wrapper(torch.nn.Module):
        """The model's named outputs as a tuple (what the exporter traces)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            out = self.model(**{k: v for k, v in kwargs.items() if v is not None}, return_dict=True)
            return tuple(out[name] for name in outputs)

    return Wrapper().eval()


def _sample(tokenizer, names: list[str]) -> dict:
    encoded = tokenizer(SAMPLE, padding=True, return_tensors="pt")
    return {n: encoded[n] for n in names}


def export(model, tokenizer, outputs: tuple[str, ...], folder: Path, precision: str = "fp32") -> None:
    """Export ``model`` into ``folder`` (model.onnx + meta.json), quantize when asked, and check it."""
    import inspect
    import warnings

    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    names = [n for n in INPUTS if n in tokenizer.model_input_names and n in accepted]
    if "input_ids" not in names:
        raise RuntimeError("the tokenizer gives no input_ids")
    sample = _sample(tokenizer, names)
    batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=1, max=8192)
    if precision != "fp32":
        raise ValueError(f"no {precision} ONNX graphs")
    fp32 = folder / "model.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        _quiet_exporter()
        torch.onnx.export(
            _wrapper(model, outputs), (), str(fp32), kwargs=sample, input_names=names, output_names=list(outputs),
            dynamo=True, dynamic_shapes={n: {0: batch, 1: seq} for n in names}, optimize=True, external_data=False,
            verbose=False, report=False,
        )
    (folder / "meta.json").write_text(json.dumps({"inputs": names, "outputs": list(outputs), "precision": precision}))
    check(model, OnnxModel(folder), sample, precision, folder)


def _quiet_exporter() -> None:
    """The exporter logs each skipped torchvision op and its steps; users need none of that."""
    import logging

    for name in ("torch.onnx", "torch.onnx._internal.exporter", "onnxscript", "torch._export", "torch.export"):
        logging.getLogger(name).setLevel(logging.ERROR)


def check(model, graph: OnnxModel, sample: dict, precision: str, folder: Path) -> None:
    """Refuse a graph whose outputs on the (padded) sample differ from torch's; record the agreement."""
    import torch

    with torch.no_grad():
        expected = model(**sample, return_dict=True)
    got = graph(**sample)
    mask = sample["attention_mask"].bool() if "attention_mask" in sample else None
    worst = 0.0
    for name in graph.outputs:
        a, b = expected[name].float(), got[name].float()
        if a.shape != b.shape:
            raise RuntimeError(f"the graph's {name} has shape {tuple(b.shape)}, torch's {tuple(a.shape)}")
        if mask is not None and a.dim() >= 2 and tuple(a.shape[:2]) == tuple(mask.shape):
            a, b = a[mask], b[mask]  # padded positions mean nothing
        worst = max(worst, float((a - b).abs().max() / a.abs().max().clamp(min=1.0)))
    if not worst <= TOLERANCE:
        raise RuntimeError(f"the graph differs from torch by {worst:.2g} on a sample (allowed {TOLERANCE:g})")
    meta = json.loads((folder / "meta.json").read_text())
    meta["agreement"] = {"max_relative_difference": worst}
    (folder / "meta.json").write_text(json.dumps(meta))
    graph.agreement = meta["agreement"]


# -- what the tasks call ---------------------------------------------------------------------------


def load_encoder(task, model_class, tokenizer, outputs: tuple[str, ...]):
    """The task's model: an ONNX stand-in when the runtime choice says so (exported now if needed),
    else the torch model. Sets ``task.runtime`` and ``task.precision``."""
    from .transformers import load_model

    choice = runtimes.choose(task.spec.name, task.model_id, task.model_path, task.device, task.options)
    task.runtime, task.precision = "torch", "fp32"
    if choice.runtime != "onnx":
        return load_model(model_class, task.model_path, task.device)
    folder = runtimes.store_path(task.model_id, task.model_path, "onnx", choice.precision)
    if runtimes.is_stored(folder):
        from transformers import AutoConfig

        from .transformers import check_remote_code

        config = AutoConfig.from_pretrained(task.model_path, trust_remote_code=check_remote_code(task.model_path))
        graph = OnnxModel(folder, config)
    else:
        import torch

        model = load_model(model_class, task.model_path, "cpu", dtype=torch.float32)
        try:
            runtimes.build(folder, lambda temp: export(model, tokenizer, outputs, temp, choice.precision))
            graph = OnnxModel(folder, model.config)
        except Exception as e:  # noqa: BLE001 - the torch model still works: say why, and use it
            fallback_notice(task.model_id, "onnx", e)
            return model.to(task.device)
    task.runtime, task.precision = "onnx", graph.precision
    return graph


def fallback_notice(model_id: str, runtime: str, error: Exception) -> None:
    text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    notice(f"Could not make a {runtime} graph of {model_id} ({type(error).__name__}: {text}); running it on torch.")


class OnnxSentenceModel:
    """A sentence-transformers model whose transformer runs in ONNX Runtime; the model's own pooling,
    dense and normalization modules run after it, in torch, as the model configures them."""

    runtime = "onnx"
    device = "cpu"

    def __init__(self, st, graph: OnnxModel):
        import torch

        self.tokenizer = st.tokenizer
        self.max_seq_length = st.max_seq_length
        self.graph = graph
        self.precision = graph.precision
        self.tail = torch.nn.Sequential(*[st[i] for i in range(1, len(st))]).eval()

    def __call__(self, features: dict) -> dict:
        import torch

        (tokens,) = self.graph.run(features)
        features = {**features, "token_embeddings": torch.from_numpy(tokens)}
        features = self.tail(features)
        if "sentence_embedding" not in features:
            features["sentence_embedding"] = features["token_embeddings"][:, 0]
        return features


def sentence_graph_ok(st) -> bool:
    """Whether the model is a plain transformer + pooling modules (what the ONNX path runs)."""
    first = st[0] if len(st) else None
    config = getattr(first, "modality_config", {"text": {"method": "forward", "method_output_name": "last_hidden_state"}})
    text = (config or {}).get("text") or {}
    return (
        type(first).__name__ == "Transformer" and getattr(first, "auto_model", None) is not None
        and text.get("method") == "forward" and text.get("method_output_name") in ("last_hidden_state", ("last_hidden_state",), ["last_hidden_state"])
        and callable(getattr(st, "tokenizer", None))
    )


def load_sentence_encoder(task, st):
    """``st``, or an ONNX stand-in for it when the runtime choice says so. Sets ``task.runtime`` and ``task.precision``."""
    choice = runtimes.choose(task.spec.name, task.model_id, task.model_path, task.device, task.options)
    task.runtime, task.precision = "torch", "fp32"
    if choice.runtime != "onnx":
        return st
    if not sentence_graph_ok(st):
        notice(f"{task.model_id} is not a plain transformer + pooling model; running it on torch.")
        return st
    folder = runtimes.store_path(task.model_id, task.model_path, "onnx", choice.precision)
    try:
        runtimes.build(folder, lambda temp: export(st[0].auto_model, st.tokenizer, ("last_hidden_state",), temp, choice.precision))
        model = OnnxSentenceModel(st, OnnxModel(folder))
    except Exception as e:  # noqa: BLE001
        fallback_notice(task.model_id, "onnx", e)
        return st
    task.runtime, task.precision = "onnx", model.precision
    return model
