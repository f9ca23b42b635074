"""ONNX Runtime for the encoder tasks: a graph exported locally from the cached weights, then run on the CPU.

The graph is exported once with the TorchScript exporter on eager attention (the form ONNX Runtime's
transformer optimizer recognises; the dynamo exporter is the fallback for models it cannot trace), then
fused by that optimizer (Attention, SkipLayerNormalization, EmbedLayerNormalization, BiasGelu). Both the
fused and the plain graph are checked against torch on a padded sample batch of mixed lengths, timed on
this CPU, and the faster is stored under modeldeck's home (see runtimes.py; meta.json records the fusions,
the timings and the agreement): on some CPUs the fused kernels win, on others (this 2-core AMD EPYC with
ONNX Runtime 1.32) the fused SkipLayerNormalization ran 10-15% slower than the plain graph. Later loads reuse
the stored graph without touching torch weights.

int8 (``quantize="int8"``): both graphs quantized, 8-bit block-wise MatMul weights (MatMulNBits, blocks of
32, int8 compute) and, in the fused graph, the attention as dynamic QAttention; checked and timed as in fp32,
a near tie (within 5%) going to the graph that keeps the closer answers.
On 2,000 held sentences with the real all-MiniLM-L6-v2 they kept a minimum cosine of 0.99935 (plain) and
0.99710 (fused) with fp32; a graph that misses modeldeck's 0.99 floor on the sample is refused. A graph
that cannot be made or does not agree falls back to torch with a notice.

What the tasks get is a stand-in for the transformers model: ``model(**encoded)`` returns an object
with the same output names as torch tensors, and ``model.config``; so each task's forward() reads
the same either way. Rows of a padded batch run sorted by length in groups, so short texts do not pay
for the longest one's padding.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import runtimes
from ..notices import notice
from .onnx_graph import OnnxModel, session

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SAMPLE = ["Hello world.", "A somewhat longer sentence, so that the batch is padded.", "Short one", "x"]
TOLERANCE = 1e-3  # max |onnx - torch| on the sample, relative to the largest output value


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
    """Export ``model`` into ``folder`` (model.onnx + meta.json) as a graph ONNX Runtime can fuse; of the fused
    and the plain graph (each quantized, for int8), keep the faster on this CPU of those that agree with torch."""
    import inspect
    import warnings

    accepted = set(inspect.signature(model.forward).parameters)
    names = [n for n in INPUTS if n in tokenizer.model_input_names and n in accepted]
    if "input_ids" not in names:
        raise RuntimeError("the tokenizer gives no input_ids")
    if precision not in ("fp32", "int8"):
        raise ValueError(f"no {precision} ONNX graphs")
    sample = _sample(tokenizer, names)
    plain = folder / "plain.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet_exporter()
        try:
            how = _export_torchscript(model, names, outputs, sample, plain)
        except Exception:  # noqa: BLE001 - a model the TorchScript exporter cannot trace: the dynamo exporter
            how = _export_dynamo(model, names, outputs, sample, plain)
    meta = {"inputs": names, "outputs": list(outputs), "precision": precision, "exporter": how}
    candidates = {"plain": plain}
    fused, fusions = folder / "fused.onnx", None
    if how == "torchscript":
        try:
            fusions = fuse(plain, fused, model.config)
            candidates["fused"] = fused
        except Exception as e:  # noqa: BLE001 - the plain graph still runs (ONNX Runtime fuses some of it itself)
            meta["fusion_error"] = f"{type(e).__name__}: {str(e)[:200]}"
    meta["fusions"] = fusions
    made = [plain, fused]
    if precision == "int8":
        meta["scheme"] = INT8_SCHEME
        for name, path in list(candidates.items()):
            del candidates[name]
            quantized = folder / f"{name}+int8.onnx"
            made.append(quantized)
            try:
                quantize_int8(path, quantized, attention=name == "fused")
            except Exception as e:  # noqa: BLE001 - the other graph may still quantize
                meta[f"{name}+int8_refused"] = f"{type(e).__name__}: {str(e)[:200]}"
                continue
            candidates[f"{name}+int8"] = quantized
    agree = {}
    for name, path in list(candidates.items()):
        try:
            (folder / "meta.json").write_text(json.dumps(meta))
            agree[name] = check(model, OnnxModel(folder, path=path), sample, precision, folder, record=False)
        except Exception as e:  # noqa: BLE001 - ONNX Runtime's own errors too: the other graph may still serve
            meta[f"{name}_refused"] = str(e) if isinstance(e, RuntimeError) else f"{type(e).__name__}: {e}"[:300]
            del candidates[name]
    if not candidates:
        refusals = [v for k, v in meta.items() if k.endswith("_refused")]
        raise RuntimeError(refusals[0] if refusals else "no graph agrees with torch")
    timings = measure(candidates, tokenizer, names) if len(candidates) > 1 else {}
    best = min(candidates, key=lambda n: timings.get(n, 0.0))
    if precision == "int8":  # a near tie (within 5%) goes to the graph that keeps the answers closer
        near = [n for n in candidates if timings.get(n, 0.0) <= 1.05 * timings.get(best, 0.0)]
        best = max(near, key=lambda n: agree[n]["min_cosine"])
    candidates[best].replace(folder / "model.onnx")
    meta.update(graph=best, timings_ms=timings)
    for leftover in made:
        leftover.unlink(missing_ok=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    check(model, OnnxModel(folder), sample, precision, folder)


def _export_torchscript(model, names, outputs, sample, path: Path) -> str:
    """The TorchScript exporter on eager attention: the graph ONNX Runtime's transformer optimizer recognises
    (Attention, SkipLayerNormalization, EmbedLayerNormalization, BiasGelu), right on padded batches."""
    import torch

    previous = getattr(model.config, "_attn_implementation", None)
    switch = previous not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        axes = {n: {0: "batch", 1: "sequence"} for n in [*names, *outputs]}
        with torch.no_grad():
            torch.onnx.export(
                _wrapper(model, outputs), tuple(sample[n] for n in names), str(path), input_names=names,
                output_names=list(outputs), dynamo=False, opset_version=17, dynamic_axes=axes, do_constant_folding=True,
            )
    finally:
        if switch:
            model.set_attn_implementation(previous)
    return "torchscript"


def _export_dynamo(model, names, outputs, sample, path: Path) -> str:
    import torch

    batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=1, max=8192)
    with torch.no_grad():
        torch.onnx.export(
            _wrapper(model, outputs), (), str(path), kwargs=sample, input_names=names, output_names=list(outputs),
            dynamo=True, dynamic_shapes={n: {0: batch, 1: seq} for n in names}, optimize=True, external_data=False,
            verbose=False, report=False,
        )
    return "dynamo"


def fuse(source: Path, target: Path, config) -> dict[str, int]:
    """ONNX Runtime's transformer optimizer (model type bert: BERT, DistilBERT, RoBERTa, MiniLM...) over the
    exported graph; the fused operators it made, by kind."""
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None) or 0
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None) or 0
    optimized = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    stats = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    if not stats.get("Attention") and not stats.get("SkipLayerNormalization"):
        raise RuntimeError(f"nothing fused ({stats})")
    optimized.save_model_to_file(str(target))
    return stats


def measure(candidates: dict[str, Path], tokenizer, names: list[str], rounds: int = 5) -> dict[str, float]:
    """Median milliseconds of each graph on a batch like the ones the tasks send (16 texts of mixed
    lengths), in alternating rounds on this CPU."""
    import statistics
    import time

    texts = [(" ".join(SAMPLE) + " ") * (1 + i % 4) for i in range(16)]
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    feeds = {n: encoded[n].astype("int64") for n in names}
    sessions = {name: session(path) for name, path in candidates.items()}
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for name, s in sessions.items():
        s.run(None, feeds)  # warm-up
    for r in range(rounds):
        for name in (list(sessions) if r % 2 == 0 else list(sessions)[::-1]):
            start = time.perf_counter()
            sessions[name].run(None, feeds)
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(t) * 1000, 2) for name, t in times.items()}


# int8: 8-bit weights in blocks of 32 along the input dimension (one scale per block, symmetric), every weight
# MatMul; activations quantized per block too at run time (accuracy level 4: int8 dot products, VNNI where the
# CPU has it). In a fused graph the attention's own weights (inside its Attention node, which MatMulNBits does
# not reach) become ONNX Runtime's dynamic QAttention, per channel. Real all-MiniLM-L6-v2, 2,000 held sentences:
# min cosine 0.99935 (plain graph) and 0.99710 (fused, attention too) with fp32 (bench/RESULTS.md has the
# schemes tried: per-tensor or per-channel dynamic int8 on every MatMul kept only 0.978-0.985).
INT8_SCHEME = "MatMulNBits 8-bit, block 32, symmetric, accuracy level 4 (int8 compute); fused attention: QAttention"
INT8_FLOOR = 0.99  # min cosine against torch fp32 on the check's tokens (modeldeck's int8 floor)


def quantize_int8(source: Path, target: Path, attention: bool = False) -> None:
    """8-bit block-wise MatMul weights; ``attention``: a fused graph's Attention nodes as dynamic QAttention."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(source)), bits=8, block_size=32, is_symmetric=True, accuracy_level=4)
    quantizer.process()
    if not attention:
        quantizer.model.save_model_to_file(str(target))
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    blockwise = target.with_suffix(".blockwise.onnx")
    quantizer.model.save_model_to_file(str(blockwise))
    try:
        # DefaultTensorType: MatMulNBits' outputs have no type shape inference can give (a contrib op)
        quantize_dynamic(str(blockwise), str(target), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["Attention"], extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        blockwise.unlink(missing_ok=True)


def _quiet_exporter() -> None:
    """The exporter logs each skipped torchvision op and its steps; users need none of that."""
    import logging

    for name in ("torch.onnx", "torch.onnx._internal.exporter", "onnxscript", "torch._export", "torch.export"):
        logging.getLogger(name).setLevel(logging.ERROR)


def check(model, graph: OnnxModel, sample: dict, precision: str, folder: Path, record: bool = True) -> dict:
    """Refuse a graph whose outputs on the (padded) sample differ from torch's (fp32: relative difference
    over 1e-3; int8: a token's or a row's cosine under 0.99); record the agreement in meta.json."""
    import torch

    with torch.no_grad():
        expected = model(**sample, return_dict=True)
    got = graph(**sample)
    mask = sample["attention_mask"].bool() if "attention_mask" in sample else None
    worst, cosine = 0.0, 1.0
    for name in graph.outputs:
        a, b = expected[name].float(), got[name].float()
        if a.shape != b.shape:
            raise RuntimeError(f"the graph's {name} has shape {tuple(b.shape)}, torch's {tuple(a.shape)}")
        if mask is not None and a.dim() >= 2 and tuple(a.shape[:2]) == tuple(mask.shape):
            a, b = a[mask], b[mask]  # padded positions mean nothing
        worst = max(worst, float((a - b).abs().max() / a.abs().max().clamp(min=1.0)))
        if a.dim() >= 2:
            cosine = min(cosine, float(torch.nn.functional.cosine_similarity(a.flatten(1), b.flatten(1), dim=-1).min()))
    if precision == "int8":
        if not cosine >= INT8_FLOOR:
            raise RuntimeError(f"the int8 graph keeps a cosine of only {cosine:.4f} with torch on a sample "
                               f"(modeldeck's floor: {INT8_FLOOR})")
    elif not worst <= TOLERANCE:
        raise RuntimeError(f"the graph differs from torch by {worst:.2g} on a sample (allowed {TOLERANCE:g})")
    agreement = {"max_relative_difference": worst, "min_cosine": cosine}
    if record:
        meta = json.loads((folder / "meta.json").read_text())
        meta["agreement"] = agreement
        (folder / "meta.json").write_text(json.dumps(meta))
        graph.agreement = agreement
    return agreement


# -- what the tasks call ---------------------------------------------------------------------------


def load_encoder(task, model_class, tokenizer, outputs: tuple[str, ...]):
    """The task's model: an ONNX stand-in when the runtime choice says so (exported now if needed),
    else the torch model. Sets ``task.runtime`` and ``task.precision``."""
    from .transformers import load_model

    store = runtimes.chosen_store(task, "onnx")
    if store is None:
        return load_model(model_class, task.model_path, task.device)
    folder, precision = store
    if runtimes.is_stored(folder):
        from transformers import AutoConfig

        from .transformers import check_remote_code

        config = AutoConfig.from_pretrained(task.model_path, trust_remote_code=check_remote_code(task.model_path))
        graph = OnnxModel(folder, config)
    else:
        import torch

        model = load_model(model_class, task.model_path, "cpu", dtype=torch.float32)
        try:
            runtimes.build(folder, lambda temp: export(model, tokenizer, outputs, temp, precision))
            graph = OnnxModel(folder, model.config)
        except Exception as e:  # noqa: BLE001 - the torch model still works: say why, and use it
            runtimes.fallback_notice(task.model_id, "onnx", e)
            return model.to(task.device)
    task.runtime, task.precision = "onnx", graph.precision
    return graph


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
    store = runtimes.chosen_store(task, "onnx")
    if store is None:
        return st
    if not sentence_graph_ok(st):
        notice(f"{task.model_id} is not a plain transformer + pooling model; running it on torch.")
        return st
    folder, precision = store
    try:
        runtimes.build(folder, lambda temp: export(st[0].auto_model, st.tokenizer, ("last_hidden_state",), temp, precision))
        model = OnnxSentenceModel(st, OnnxModel(folder))
    except Exception as e:  # noqa: BLE001
        runtimes.fallback_notice(task.model_id, "onnx", e)
        return st
    task.runtime, task.precision = "onnx", model.precision
    return model
