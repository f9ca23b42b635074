"""CPU fast paths and bf16 against the plain way of each job, in one run, with the agreement beside the speed.

- embeddings: real all-MiniLM-L6-v2 (from its PyPI package), 2,000 sentences: sentence-transformers
  ``encode`` (fp32) vs modeldeck on torch fp32, torch bf16, ONNX fp32 and ONNX int8, all in one loop of
  alternating rounds; min cosine against ``encode``'s vectors over all sentences;
- text-classification: DistilBERT-SST-2-sized (real config, random weights), 400 texts: the transformers
  pipeline (card usage, fp32) vs modeldeck onnx fp32 and torch bf16; top-1 agreement and the largest score
  difference;
- text-generation: gpt2-sized (real config, random weights), 64 new tokens, greedy: ``model.generate`` vs
  modeldeck ``runtime="ctranslate2"`` fp32 and int8; same tokens checked;
- summarization: BART-large-cnn-sized, the model's beam settings (4 beams), summaries capped at 60 tokens:
  the card usage (tokenizer -> ``generate`` -> decode; transformers 5 has no summarization pipeline) vs
  modeldeck ctranslate2; translation: Marian opus-mt-en-fr-sized, 4 beams, the same way.

Pinned: every modeldeck load names its runtime and dtype, MODELDECK_RUNTIME=torch and MODELDECK_DTYPE=fp32
for everything else, torch and the fast runtimes on the physical cores (``--threads``); the CPU features
seen are printed. Random weights where no real ones are installed: the time depends on shapes, not values.
Each ratio is plain time over modeldeck time, medians of alternating rounds (> 1: modeldeck faster); the
load average is printed with each row (a figure from a busy machine is rough).

    python bench/fast_cpu.py [--rounds 3] [--only embed,classify,generate,summarize,translate] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
warnings.simplefilter("ignore")

from embed import sentences
from generate import GPT2_CONFIG, GPT2_TOKENIZER, PROMPT
from pinning import load, pin

FIXTURES = REPO / ".cache" / "fixture-hub"
ARTICLE = (
    "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in "
    "Paris. Its base is square, measuring 125 metres on each side. During its construction, the Eiffel Tower "
    "surpassed the Washington Monument to become the tallest man-made structure in the world. "
) * 3


def compare(variants: dict, rounds: int) -> tuple[dict[str, float], dict]:
    """Median seconds of each variant over rounds that alternate their order (first, last) so no variant
    always gets the warmer or the quieter slot; and each variant's last output."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict = {}
    names = list(variants)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            outputs[name] = variants[name]()
            times[name].append(time.perf_counter() - start)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()) + f"; load {load()}",
              file=sys.stderr, flush=True)
    return {name: statistics.median(t) for name, t in times.items()}, outputs


def fixture_folder(model_id: str) -> Path:
    from modeldeck.hub import resolve

    os.environ.setdefault("HF_HUB_CACHE", str(FIXTURES))
    return Path(resolve(model_id).path)


def row(job, plain_name, plain_s, deck_s, agreement, unit="s"):
    ratio = plain_s / deck_s
    now = load()
    print(f"| {job} | {plain_name} {plain_s:.2f} {unit} | {deck_s:.2f} {unit} | {ratio:.2f}x | {agreement} | "
          f"{now[0]:.2f} |", flush=True)
    return {"job": job, "plain_s": round(plain_s, 3), "modeldeck_s": round(deck_s, 3), "speedup": round(ratio, 2),
            "agreement": agreement, "load_average": now}


def min_cosine(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


EMBED_PATHS = {  # modeldeck's side: the load options of each path
    "torch fp32": {"runtime": "torch", "dtype": "fp32"},
    "torch bf16": {"runtime": "torch", "dtype": "bf16"},
    "onnx fp32": {"runtime": "onnx"},
    "onnx int8": {"runtime": "onnx", "quantize": "int8"},
}


def bench_embed(rounds, results, native_bf16):
    from sentence_transformers import SentenceTransformer

    import modeldeck
    from modeldeck.hub import packaged_path

    folder = str(packaged_path("sentence-transformers/all-MiniLM-L6-v2"))
    texts = sentences(2000)
    plain = SentenceTransformer(folder, device="cpu")
    runners, first_load = {}, {}
    for name, options in EMBED_PATHS.items():
        if "bf16" in name and not native_bf16:
            print(f"  {name}: skipped (this CPU does not compute bf16 natively)", file=sys.stderr)
            continue
        start = time.perf_counter()
        runners[name] = modeldeck.load("feature-extraction", folder, device="cpu", **options)
        runners[name](texts[:64])
        first_load[name] = time.perf_counter() - start
        assert (runners[name].runtime, runners[name].precision or "fp32") == (
            options["runtime"], options.get("dtype") or ("int8" if options.get("quantize") else "fp32")), name
    plain.encode(texts[:64])
    variants = {"encode": lambda: plain.encode(texts, batch_size=32)}
    variants.update({name: (lambda r=r: r(texts, batch_size=32)) for name, r in runners.items()})
    medians, outputs = compare(variants, rounds)
    for name in runners:
        row_ = row(f"embed 2000 sentences (real all-MiniLM-L6-v2), {name}", "sentence-transformers `encode` (fp32)",
                   medians["encode"], medians[name], f"min cosine {min_cosine(outputs['encode'], outputs[name]):.5f}")
        row_["first_load_s"] = round(first_load[name], 1)  # ONNX: with the export (and the fused/plain timing)
        results.append(row_)


def bench_classify(rounds, results, native_bf16):
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification, pipeline

    import modeldeck

    tokenizer = AutoTokenizer.from_pretrained(fixture_folder("distilbert/distilbert-base-uncased-finetuned-sst-2-english"))
    texts = sentences(400, seed=1)
    torch.manual_seed(0)
    paths = {"onnx fp32": {"runtime": "onnx"}, "torch bf16": {"runtime": "torch", "dtype": "bf16"}}
    if not native_bf16:
        del paths["torch bf16"]
    with tempfile.TemporaryDirectory() as folder:
        config = DistilBertConfig(vocab_size=len(tokenizer), dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                  id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
        DistilBertForSequenceClassification(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        plain = pipeline("text-classification", model=folder, device="cpu")
        runners = {name: modeldeck.load("text-classification", folder, device="cpu", **options)
                   for name, options in paths.items()}
        plain(texts[:8])
        for runner in runners.values():
            runner(texts[:8])
        variants = {"pipeline": lambda: plain(texts)}
        variants.update({name: (lambda r=r: r(texts)) for name, r in runners.items()})
        medians, outputs = compare(variants, rounds)
    expected = outputs["pipeline"]
    for name in runners:
        got = outputs[name]
        same = sum(e["label"] == g[0]["label"] for e, g in zip(expected, got))
        diff = max(abs(e["score"] - g[0]["score"]) for e, g in zip(expected, got))
        results.append(row(f"text-classification 400 texts (DistilBERT-SST-2-sized), {name}",
                           "transformers pipeline (fp32)", medians["pipeline"], medians[name],
                           f"top-1 same {same}/{len(texts)}, max score diff {diff:.1e}"))


def bench_generate(rounds, results, new_tokens=64):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    import modeldeck

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        GPT2LMHeadModel(GPT2Config(**GPT2_CONFIG)).save_pretrained(folder)
        AutoTokenizer.from_pretrained(GPT2_TOKENIZER, model_max_length=1024).save_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = GPT2LMHeadModel.from_pretrained(folder).eval()
        runners = {label: modeldeck.load("text-generation", folder, device="cpu", runtime="ctranslate2", quantize=q)
                   for label, q in (("fp32", "none"), ("int8", "int8"))}

    def plain():
        with torch.inference_mode():
            inputs = tokenizer(PROMPT, return_tensors="pt")
            out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.eos_token_id)
            return out[0, inputs["input_ids"].shape[1]:].tolist()

    variants = {"generate": plain}
    for label, runner in runners.items():
        assert (runner.runtime, runner.precision) == ("ctranslate2", label)
        variants[label] = lambda runner=runner: runner(PROMPT, max_new_tokens=new_tokens,
                                                       return_full_text=False)[0]["generated_text"]
    for fn in variants.values():
        fn()
    medians, outputs = compare(variants, rounds)
    expected = outputs["generate"]
    prompt_ids = tokenizer(PROMPT)["input_ids"]  # the runner's token ids, for the agreement figure only
    for label, runner in runners.items():
        with runner.leased() as state:
            got_ids = state.fast.generate(prompt_ids, {}, new_tokens)[0, len(prompt_ids):].tolist()
        common = next((i for i, (a, b) in enumerate(zip(expected, got_ids)) if a != b), min(len(expected), len(got_ids)))
        same = outputs[label] == tokenizer.decode(expected, skip_special_tokens=True)
        agreement = "same text" if same else f"first {common} of {len(expected)} tokens identical"
        results.append(row(f"text-generation {new_tokens} new tokens (gpt2-sized), ctranslate2 {label}",
                           "`model.generate` (fp32)", medians["generate"], medians[label], agreement))


def bench_seq2seq(kind, rounds, results):
    import torch
    from transformers import (
        AutoTokenizer,
        BartConfig,
        BartForConditionalGeneration,
        GenerationConfig,
        MarianConfig,
        MarianMTModel,
    )

    import modeldeck

    torch.manual_seed(0)
    model_id = "facebook/bart-large-cnn" if kind == "summarization" else "Helsinki-NLP/opus-mt-en-fr"
    source = fixture_folder(model_id)
    tokenizer = AutoTokenizer.from_pretrained(source)
    generation = GenerationConfig.from_pretrained(source)
    with tempfile.TemporaryDirectory() as folder:
        if kind == "summarization":  # the real bart-large-cnn shapes; its vocabulary is the fixture's (50264 tokens)
            base = BartConfig.from_pretrained(source)
            config = BartConfig(**{**base.to_dict(), "d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
                                   "encoder_attention_heads": 16, "decoder_attention_heads": 16, "encoder_ffn_dim": 4096,
                                   "decoder_ffn_dim": 4096, "max_position_embeddings": 1024})
            BartForConditionalGeneration(config).save_pretrained(folder)
            generation.max_length, generation.min_length, generation.num_beams = 60, 20, 4
        else:  # opus-mt-en-fr shapes (d_model 512, 6+6 layers, 8 heads, FFN 2048), the fixture's vocabulary
            base = MarianConfig.from_pretrained(source)
            config = MarianConfig(**{**base.to_dict(), "d_model": 512, "encoder_layers": 6, "decoder_layers": 6,
                                     "encoder_attention_heads": 8, "decoder_attention_heads": 8, "encoder_ffn_dim": 2048,
                                     "decoder_ffn_dim": 2048, "max_position_embeddings": 512})
            MarianMTModel(config).save_pretrained(folder)
            generation.num_beams, generation.max_length = 4, 60
        generation.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        # transformers 5 has no summarization/translation pipeline: the card usage is tokenizer -> generate -> decode.
        model = (BartForConditionalGeneration if kind == "summarization" else MarianMTModel).from_pretrained(folder).eval()
        runner = modeldeck.load(kind, folder, device="cpu", runtime="ctranslate2")
        key = "summary_text" if kind == "summarization" else "translation_text"
        text = ARTICLE if kind == "summarization" else ARTICLE[:300]

        def plain():
            with torch.inference_mode():
                inputs = tokenizer(text, return_tensors="pt", truncation=True)
                return tokenizer.decode(model.generate(**inputs, **cap)[0], skip_special_tokens=True)

        # modeldeck's translation lets long inputs write up to 2 x their length; both get the same cap here.
        cap = {} if kind == "summarization" else {"max_new_tokens": 60}
        assert (runner.runtime, runner.precision) == ("ctranslate2", "fp32")
        deck = lambda: runner(text, **cap)[key]
        plain(), deck()
        medians, outputs = compare({"generate": plain, "modeldeck": deck}, rounds)
        p, d, expected, got = medians["generate"], medians["modeldeck"], outputs["generate"], outputs["modeldeck"]
    shape = "BART-large-cnn-sized, 4 beams" if kind == "summarization" else "Marian opus-mt-en-fr-sized, 4 beams"
    results.append(row(f"{kind} ({shape}, 60 tokens max), ctranslate2 fp32", "tokenizer -> `generate` (fp32)", p, d,
                       "same text" if expected == got else "text differs"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="embed,classify,generate,summarize,translate")
    parser.add_argument("--threads", type=int, default=None, help="torch and fast-runtime threads [physical cores]")
    args = parser.parse_args()
    machine = pin("torch", "fp32", args.threads)  # each row names its own runtime and dtype on top of this
    native_bf16 = machine["native_bf16"] is not None

    os.environ.setdefault("MODELDECK_HOME", tempfile.mkdtemp(prefix="modeldeck-bench-"))  # graphs made fresh
    wanted = set(args.only.split(","))
    results: list[dict] = []
    print("| job | plain | modeldeck | speedup | agreement | load |\n| --- | --- | --- | --- | --- | --- |", flush=True)
    if "embed" in wanted:
        bench_embed(args.rounds, results, native_bf16)
    if "classify" in wanted:
        bench_classify(args.rounds, results, native_bf16)
    if "generate" in wanted:
        bench_generate(args.rounds, results)
    if "summarize" in wanted:
        bench_seq2seq("summarization", args.rounds, results)
    if "translate" in wanted:
        bench_seq2seq("translation", args.rounds, results)
    print(json.dumps({"bench": "fast_cpu", "rounds": args.rounds, **machine, "load_average_end": load(),
                      "results": results}))


if __name__ == "__main__":
    main()
