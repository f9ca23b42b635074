"""Embed 2,000 sentences with plain sentence-transformers ``encode`` and with modeldeck.

Both use the same real all-MiniLM-L6-v2 weights on the same device, in one run,
alternating rounds so that neither gets a warmer machine. Prints a JSON line and
a markdown row; the ratio is encode's time over modeldeck's (> 1: modeldeck faster).

    python bench/embed.py [--n 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the a man woman child dog cat city river house music film book game team plays eats reads walks runs "
    "builds sees loves quickly slowly near under over bright dark old new small large red green blue happy "
    "quiet loud morning evening market station window garden kitchen teacher doctor engineer story song"
).split()


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sentences of 3 to 80 words, lengths spread like real text (many short, some long)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = min(80, max(3, int(rng.lognormvariate(2.6, 0.6))))
        out.append(" ".join(rng.choice(WORDS) for _ in range(length)).capitalize() + ".")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from pinning import pin

    machine = pin("torch", "fp32")  # this row is the torch fp32 path (bench/fast_cpu.py has bf16, ONNX, int8)
    import torch
    from sentence_transformers import SentenceTransformer

    import modeldeck
    from modeldeck.hub import resolve

    texts = sentences(args.n)
    path = resolve("sentence-transformers/all-MiniLM-L6-v2").path
    plain = SentenceTransformer(str(path), device="cpu")
    runner = modeldeck.load("feature-extraction", device="cpu", runtime="torch", dtype="fp32")
    plain.encode(texts[:64])
    runner(texts[:64])

    plain_times, deck_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        expected = plain.encode(texts, batch_size=32)
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        got = runner(texts, batch_size=32)
        deck_times.append(time.perf_counter() - start)
    diff = float(torch.tensor(got).sub(torch.from_numpy(expected)).abs().max())
    plain_s, deck_s = statistics.median(plain_times), statistics.median(deck_times)
    result = {
        "bench": "embed",
        **machine,
        "sentences": args.n,
        "sentence_transformers_encode_s": round(plain_s, 3),
        "modeldeck_s": round(deck_s, 3),
        "speedup": round(plain_s / deck_s, 3),
        "max_abs_diff": diff,
    }
    print(json.dumps(result))
    print(
        f"| embed {args.n} sentences (all-MiniLM-L6-v2, CPU) | encode {plain_s:.2f} s | "
        f"modeldeck {deck_s:.2f} s | {plain_s / deck_s:.2f}x |"
    )


if __name__ == "__main__":
    main()
