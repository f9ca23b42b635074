"""How well modeldeck predicts a model's memory, against the Hugging Face course's rule of thumb,
"weights file x 1.2".

For each model below (real architectures at REAL size, random weights built
from the real configs written out here, saved as the hub ships them: the
same dtype, safetensors), a fresh subprocess imports torch and transformers,
notes its resident memory (RSS), loads the model with modeldeck's loader
(backends.transformers.load_model, CPU, in ``--dtype``: fp32 by default, bf16 to check that the
prediction follows the dtype a bf16-capable CPU loads in), touches
every weight once (safetensors are memory-mapped, so pages become resident
when first read, as in the first inference), and notes RSS again. The growth
is compared with modeldeck's prediction (memory.predict_bytes from the
safetensors headers) and with the rule (weights file size x 1.2).

Prints one JSON line per model, a JSON summary line and a markdown table.

    python bench/memory.py [--only gpt2 bert-base-uncased ...] [--keep DIR] [--dtype fp32|bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Real configs (from each model's config.json on the hub), trimmed to what the architecture reads.
MODELS = {
    "google-bert/bert-base-uncased": dict(
        cls="BertForMaskedLM", config="BertConfig", dtype="float32",
        kwargs=dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2),
    ),
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english": dict(
        cls="DistilBertForSequenceClassification", config="DistilBertConfig", dtype="float32",
        kwargs=dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                    max_position_embeddings=512, id2label={0: "NEGATIVE", 1: "POSITIVE"},
                    label2id={"NEGATIVE": 0, "POSITIVE": 1}),
    ),
    "openai-community/gpt2": dict(
        cls="GPT2LMHeadModel", config="GPT2Config", dtype="float32",
        kwargs=dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    ),
    "facebook/opt-350m": dict(  # shipped in float16 ("torch_dtype": "float16"): 662 MB on disk
        cls="OPTForCausalLM", config="OPTConfig", dtype="float16",
        kwargs=dict(vocab_size=50272, hidden_size=1024, word_embed_proj_dim=512, ffn_dim=4096,
                    num_hidden_layers=24, num_attention_heads=16, max_position_embeddings=2048,
                    do_layer_norm_before=False, pad_token_id=1, bos_token_id=2, eos_token_id=2),
    ),
    "openai/whisper-small": dict(
        cls="WhisperForConditionalGeneration", config="WhisperConfig", dtype="float32",
        kwargs=dict(vocab_size=51865, num_mel_bins=80, d_model=768, encoder_layers=12, decoder_layers=12,
                    encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
                    decoder_ffn_dim=3072, max_source_positions=1500, max_target_positions=448),
    ),
    "facebook/bart-large-cnn": dict(
        cls="BartForConditionalGeneration", config="BartConfig", dtype="float32",
        kwargs=dict(vocab_size=50264, d_model=1024, encoder_layers=12, decoder_layers=12,
                    encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096,
                    decoder_ffn_dim=4096, max_position_embeddings=1024),
    ),
    "google-t5/t5-small": dict(
        cls="T5ForConditionalGeneration", config="T5Config", dtype="float32",
        kwargs=dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
                    relative_attention_num_buckets=32),
    ),
    "openai/clip-vit-base-patch32": dict(
        cls="CLIPModel", config="CLIPConfig", dtype="float32",
        kwargs=dict(
            text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                             num_attention_heads=8, max_position_embeddings=77),
            vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                               num_attention_heads=12, image_size=224, patch_size=32),
            projection_dim=512,
        ),
    ),
}

BUILD = r"""
import sys, torch, transformers
name, folder = sys.argv[1], sys.argv[2]
spec = MODELS[name]
torch.manual_seed(0)
config = getattr(transformers, spec["config"])(**spec["kwargs"])
model = getattr(transformers, spec["cls"])(config)
if spec["dtype"] == "float16":
    model = model.half()
model.save_pretrained(folder)
"""

MEASURE = r"""
import gc, json, resource, sys, time
from pathlib import Path
import psutil
process = psutil.Process()
at_start = process.memory_info().rss
import torch, transformers
import modeldeck.backends.transformers as backend
cls_name, folder = sys.argv[1], Path(sys.argv[2])
model_class = getattr(transformers, cls_name)  # the library code, loaded once per process, is not the model
gc.collect()
before = process.memory_info().rss
start = time.perf_counter()
model = backend.load_model(model_class, folder, "cpu")
seconds = time.perf_counter() - start
after_load = process.memory_info().rss
with torch.inference_mode():  # read every weight once, as the first inference does
    for tensor in list(model.parameters()) + list(model.buffers()):
        tensor.sum()
gc.collect()
after = process.memory_info().rss
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"growth": after - before, "growth_after_load": after_load - before,
                  "peak_growth": peak - before, "runtime": before - at_start, "load_s": seconds, "dtype": str(model.dtype)}))
"""


def run(code: str, *args: str, dtype: str = "fp32") -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", MODELDECK_DTYPE=dtype)
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if result.returncode:
        raise SystemExit(f"subprocess failed:\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="model ids (or their last part) to run")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it (reused next time)")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="the dtype the models load in")
    args = parser.parse_args()
    from pinning import pin

    machine = pin("torch", args.dtype)

    from modeldeck import memory

    names = [n for n in MODELS if not args.only or n in args.only or n.split("/")[-1] in args.only]
    root = args.keep or Path(tempfile.mkdtemp(prefix="modeldeck-membench-"))
    rows = []
    started = time.perf_counter()
    for name in names:
        folder = root / name.replace("/", "--")
        if not (folder / "config.json").exists():
            run(f"MODELS = {MODELS!r}\n" + BUILD, name, str(folder))
        weights = memory.local_weights(folder, name)
        predicted = memory.predict_bytes(weights, args.dtype, "cpu")
        rule = memory.rule_bytes(weights)
        measured = json.loads(run(MEASURE, MODELS[name]["cls"], str(folder), dtype=args.dtype).strip().splitlines()[-1])
        growth = measured["growth"]
        row = {
            "model": name,
            "dtype": measured["dtype"],
            "parameters": weights.parameters,
            "stored_dtype": "/".join(weights.params_by_dtype),
            "file_bytes": weights.weights_bytes,
            "measured_bytes": growth,
            "modeldeck_bytes": predicted,
            "rule_bytes": rule,
            "modeldeck_error": (predicted - growth) / growth,
            "rule_error": (rule - growth) / growth,
            "rss_right_after_load": measured["growth_after_load"],
            "peak_growth": measured["peak_growth"],
            "runtime_bytes": measured["runtime"],
            "load_s": round(measured["load_s"], 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if not args.keep:
            shutil.rmtree(folder)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)

    mean = lambda key: sum(abs(r[key]) for r in rows) / len(rows)  # noqa: E731
    summary = {
        "bench": "memory", **machine,
        "models": len(rows),
        "modeldeck_mean_abs_error": mean("modeldeck_error"),
        "rule_mean_abs_error": mean("rule_error"),
        "modeldeck_max_abs_error": max(abs(r["modeldeck_error"]) for r in rows),
        "rule_max_abs_error": max(abs(r["rule_error"]) for r in rows),
        "runtime_bytes_once_per_process": max(r["runtime_bytes"] for r in rows),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))
    print()
    print(f"Loaded in {args.dtype}.")
    print("| model | params (stored dtype) | weights file | measured RSS growth | modeldeck | error | x1.2 rule | error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    fmt = memory.format_bytes
    for r in rows:
        print(
            f"| {r['model']} | {memory.format_count(r['parameters'])} ({r['stored_dtype']}) | {fmt(r['file_bytes'])} "
            f"| {fmt(r['measured_bytes'])} | {fmt(r['modeldeck_bytes'])} | {r['modeldeck_error']:+.1%} "
            f"| {fmt(r['rule_bytes'])} | {r['rule_error']:+.1%} |"
        )
    print(
        f"| **mean absolute error** | | | | | **{summary['modeldeck_mean_abs_error']:.1%}** | "
        f"| **{summary['rule_mean_abs_error']:.1%}** |"
    )


if __name__ == "__main__":
    main()
