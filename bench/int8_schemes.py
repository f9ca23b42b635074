"""ONNX int8 schemes on the real all-MiniLM-L6-v2 (from its PyPI package): each scheme's minimum cosine
against fp32 sentence-transformers `encode` on 2,000 sentences and, with --time, its speed against `encode`
(medians of alternating rounds). modeldeck offers a scheme only at min cosine >= 0.99. Graphs are kept in
--out between runs. Figures: bench/RESULTS.md, "CPU fast paths".

    python bench/int8_schemes.py [--time] [--rounds 3] [--out /tmp/int8-schemes]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from embed import sentences  # noqa: E402

NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def graphs(out: Path, model, tokenizer) -> dict[str, Path]:
    """The plain and fused fp32 graphs modeldeck exports, and every scheme made from them."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from modeldeck.backends import onnx as exporter

    plain, fused = out / "plain.onnx", out / "fused.onnx"
    if not fused.exists():
        exporter._export_torchscript(model, NAMES, ("last_hidden_state",), exporter._sample(tokenizer, NAMES), plain)
        print("fusions", exporter.fuse(plain, fused, model.config), file=sys.stderr)
    matmuls = [n.name for n in onnx.load(str(fused)).graph.node if n.op_type == "MatMul"]
    feed_forward_in = [n for n in matmuls if "intermediate" in n]
    # a contrib op's outputs have no type shape inference can give: say they are float
    float_default = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    dynamic = {
        "dynamic per-channel, every MatMul + Attention (fused)": (fused, dict(op_types_to_quantize=["MatMul", "Attention"])),
        "dynamic per-channel, every MatMul (fused)": (fused, dict(op_types_to_quantize=["MatMul"])),
        "dynamic per-channel, every MatMul (plain)": (plain, dict(op_types_to_quantize=["MatMul"])),
        "dynamic per-channel, feed-forward input MatMuls only (fused)": (
            fused, dict(op_types_to_quantize=["MatMul"], nodes_to_quantize=feed_forward_in)),
        "dynamic per-channel, feed-forward input MatMuls + Attention (fused)": (
            fused, dict(op_types_to_quantize=["MatMul", "Attention"],
                        nodes_to_exclude=[n for n in matmuls if n not in feed_forward_in])),
    }
    made = {"fp32 fused (reference)": fused}
    for index, (name, (source, options)) in enumerate(dynamic.items()):
        path = out / f"dynamic-{index}.onnx"
        if not path.exists():
            quantize_dynamic(str(source), str(path), per_channel=True, weight_type=QuantType.QInt8,
                             extra_options=float_default, **options)
        made[name] = path
    for name, source, attention in (("MatMulNBits 8-bit (plain, offered)", plain, False),
                                    ("MatMulNBits 8-bit (fused)", fused, False),
                                    ("MatMulNBits 8-bit + QAttention (fused, offered)", fused, True)):
        path = out / f"nbits-{source.stem}-{int(attention)}.onnx"
        if not path.exists():
            exporter.quantize_int8(source, path, attention=attention)
        made[name] = path
    return made


def embedder(path: Path, tokenizer):
    """Mean-pooled, normalised embeddings from one graph, batches of 32 sorted by length (as modeldeck runs)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def embed(texts: list[str]):
        result = np.zeros((len(texts), 384), np.float32)
        order = np.argsort([len(t) for t in texts])
        for start in range(0, len(order), 32):
            rows = order[start:start + 32]
            encoded = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=256,
                                return_tensors="np")
            hidden = session.run(None, {k: encoded[k].astype(np.int64) for k in NAMES if k in wanted})[0]
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(1) / mask.sum(1)
            result[rows] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return result

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="/tmp/int8-schemes")
    args = parser.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    from modeldeck.hub import packaged_path

    logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)
    torch.set_num_threads(2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plain = SentenceTransformer(str(packaged_path("sentence-transformers/all-MiniLM-L6-v2")), device="cpu")
    texts = sentences(2000)
    reference = plain.encode(texts, batch_size=32, normalize_embeddings=True)
    runs = {name: embedder(path, plain.tokenizer) for name, path in graphs(out, plain[0].auto_model, plain.tokenizer).items()}
    print("| scheme | min cosine vs fp32 `encode` |" + (" speed vs `encode` |" if args.time else ""))
    cosines = {name: float((embed(texts) * reference).sum(1).min()) for name, embed in runs.items()}
    speeds = {}
    if args.time:
        times = {name: [] for name in ["encode", *runs]}
        for _ in range(args.rounds):
            start = time.perf_counter()
            plain.encode(texts, batch_size=32)
            times["encode"].append(time.perf_counter() - start)
            for name, embed in runs.items():
                start = time.perf_counter()
                embed(texts)
                times[name].append(time.perf_counter() - start)
        speeds = {n: statistics.median(times["encode"]) / statistics.median(times[n]) for n in runs}
    for name in runs:
        print(f"| {name} | {cosines[name]:.5f} |" + (f" {speeds[name]:.2f}x |" if args.time else ""))


if __name__ == "__main__":
    main()
