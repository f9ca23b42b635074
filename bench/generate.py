"""Tokens per second of text-generation: modeldeck against plain ``model.generate``.

GPT-2-sized weights (the real gpt2 config: 124M parameters, 12 layers, random
weights built in memory) and the real GPT-2 tokenizer, on the same device, in
one run. Both decode greedily, the same prompt and the same number of new
tokens (the model card's way: tokenizer -> generate -> decode); rounds
alternate so neither gets a warmer machine. Prints a JSON line and a markdown
row; the ratio is modeldeck's tokens/s over generate's (>= 0.95 is the goal), both as the
ratio of medians and as the median of per-round ratios.

    python bench/generate.py [--new-tokens 128] [--rounds 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
GPT2_TOKENIZER = REPO / "tests" / "fixtures" / "data" / "tokenizers" / "gpt2"
# The real gpt2 config.json (openai-community/gpt2), less what only training uses.
GPT2_CONFIG = dict(
    vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, activation_function="gelu_new",
    layer_norm_epsilon=1e-5, bos_token_id=50256, eos_token_id=50256,
)
PROMPT = "The history of the printing press begins in the fifteenth century, when"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from pinning import pin

    machine = pin("torch", "fp32")  # the torch fp32 path (CTranslate2 rows: bench/fast_cpu.py)
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    import modeldeck

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        GPT2LMHeadModel(GPT2Config(**GPT2_CONFIG)).save_pretrained(folder)
        AutoTokenizer.from_pretrained(GPT2_TOKENIZER, model_max_length=1024).save_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        from modeldeck.backends.transformers import load_model

        model = load_model(GPT2LMHeadModel, Path(folder), args.device)  # same dtype modeldeck picks
        runner = modeldeck.load("text-generation", folder, device=args.device, runtime="torch", dtype="fp32")
    n = args.new_tokens

    def plain() -> tuple[str, int]:
        with torch.inference_mode():
            inputs = tokenizer(PROMPT, return_tensors="pt").to(args.device)
            out = model.generate(**inputs, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.eos_token_id)
            return tokenizer.decode(out[0], skip_special_tokens=True), out.shape[1] - inputs["input_ids"].shape[1]

    def deck() -> str:  # the public call, as a user makes it
        return runner(PROMPT, max_new_tokens=n)[0]["generated_text"]

    plain(), deck()  # warm up
    plain_times, deck_times, made = [], [], 0
    for round_ in range(args.rounds):
        # Alternate which goes first, so neither always gets the warmer caches.
        for which in ("plain", "deck") if round_ % 2 == 0 else ("deck", "plain"):
            start = time.perf_counter()
            if which == "plain":
                expected, made = plain()
                plain_times.append(time.perf_counter() - start)
            else:
                got = deck()
                deck_times.append(time.perf_counter() - start)
    # Greedy on the same weights: the same text, so the same number of new tokens.
    same_text = got == expected
    plain_tps, deck_tps = made / statistics.median(plain_times), made / statistics.median(deck_times)
    # Each round's two runs sit next to each other in time: the median of their ratios is
    # steadier than the ratio of medians when other work shares the machine.
    paired = statistics.median(p / d for p, d in zip(plain_times, deck_times))
    result = {
        "bench": "generate",
        **machine,
        "model": "gpt2-sized (124M, random weights)",
        "device": args.device,
        "threads": torch.get_num_threads(),
        "new_tokens": made,
        "generate_tokens_per_s": round(plain_tps, 2),
        "modeldeck_tokens_per_s": round(deck_tps, 2),
        "ratio": round(deck_tps / plain_tps, 3),
        "paired_ratio": round(paired, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "same_text": same_text,
    }
    print(json.dumps(result))
    print(
        f"| text-generation, {made} new tokens (gpt2-sized, {args.device}) | `model.generate` {plain_tps:.1f} tok/s | "
        f"modeldeck {deck_tps:.1f} tok/s | {deck_tps / plain_tps:.2f}x (paired {paired:.2f}x) |"
    )
    if not same_text:
        sys.exit("modeldeck's text differs from generate's")


if __name__ == "__main__":
    main()
