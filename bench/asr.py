"""Real-time factor of modeldeck's offline ASR default against a plain transformers ASR pipeline.

modeldeck: automatic-speech-recognition on the packaged Whisper tiny.en
(CTranslate2 through faster-whisper, int8 on CPU), segment timestamps.
Plain: ``transformers.pipeline("automatic-speech-recognition")`` on a
WhisperForConditionalGeneration with the real whisper-tiny.en configuration
(39 M parameters; random weights, since real PyTorch weights cannot be
downloaded here), fp32, timestamps on, ``chunk_length_s=30`` for long audio as
its docs say. Both decode greedily, and the plain pipeline is forced to decode
the same number of tokens modeldeck decoded (min_new_tokens = max_new_tokens
per 30 s chunk), so they do the same amount of work.

Audio: jfk.flac (11 s) and 5 minutes of it (repeated with 1.5 s pauses).
RTF = processing time / audio duration (lower is faster); speedup = plain / modeldeck.

    python bench/asr.py [--rounds 3] [--minutes 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
JFK = ROOT / "tests" / "fixtures" / "data" / "jfk.flac"
PACKAGED = "Systran/faster-whisper-tiny.en"


def tiny_en_pipeline(device: str = "cpu"):
    """A transformers ASR pipeline on a Whisper tiny.en-shaped model (random weights, real tokenizer)."""
    from transformers import (
        AddedToken, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer, pipeline,
    )
    from transformers.generation import GenerationConfig

    from modeldeck.hub import packaged_path

    tokenizer = WhisperTokenizer.from_pretrained(packaged_path(PACKAGED))  # the real tiny.en tokenizer.json
    specials = [tokenizer.convert_ids_to_tokens(i) for i in range(50257, 50363)]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(1501)])
    config = WhisperConfig(  # openai/whisper-tiny.en
        vocab_size=51864, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
        encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536,
        max_source_positions=1500, max_target_positions=448,
        bos_token_id=50256, eos_token_id=50256, pad_token_id=50256, decoder_start_token_id=50257,
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256, bos_token_id=50256,
        begin_suppress_tokens=[220, 50256], no_timestamps_token_id=50362, max_initial_timestamp_index=50,
        is_multilingual=False, max_length=448, prev_sot_token_id=50360,
    )
    return pipeline(
        "automatic-speech-recognition", model=model, tokenizer=tokenizer,
        feature_extractor=WhisperFeatureExtractor(feature_size=80), device=device,
    )


def count_tokens(runner, audio) -> tuple[int, int]:
    """(text + timestamp tokens decoded, 30 s windows) by faster-whisper for ``audio``, as modeldeck runs it."""
    segments, _ = runner.model.transcribe(audio, language="en", beam_size=1)
    segments = list(segments)
    return sum(len(s.tokens) for s in segments), len({s.seek for s in segments})


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()

    import numpy as np
    import torch

    import modeldeck
    from modeldeck.media.audio import load_audio

    runner = modeldeck.load("automatic-speech-recognition", PACKAGED, device="cpu")
    plain = tiny_en_pipeline()
    jfk, rate = load_audio(JFK, 16000)
    gap = np.zeros(int(1.5 * rate), dtype=np.float32)
    repeats = math.ceil(args.minutes * 60 / (len(jfk) / rate + 1.5))
    long = np.concatenate([part for _ in range(repeats) for part in (jfk, gap)])[: int(args.minutes * 60 * rate)]

    rows, results = [], []
    for name, audio, rounds in (("jfk.flac (11 s)", jfk, args.rounds), (f"{args.minutes:g} min", long, max(1, args.rounds // 2))):
        seconds = len(audio) / rate
        tokens, windows = count_tokens(runner, audio)
        runner((jfk[: rate * 2], rate), beam_size=1)  # warm up
        deck_s = timed(lambda: runner((audio, rate), beam_size=1), rounds)
        deck_beam5_s = timed(lambda: runner((audio, rate)), 1)
        chunked = seconds > 30
        # the pipeline's chunks: 30 s with 5 s strides on both sides, i.e. a new chunk every 20 s
        plain_chunks = max(1, math.ceil((seconds - 10) / 20)) if chunked else 1
        per_chunk = max(1, round(tokens / plain_chunks))
        options = {"return_timestamps": True, "generate_kwargs": {"min_new_tokens": per_chunk, "max_new_tokens": per_chunk}}
        if chunked:
            options.update(chunk_length_s=30, ignore_warning=True)
        plain({"raw": jfk[: rate * 2], "sampling_rate": rate}, return_timestamps=True, generate_kwargs={"max_new_tokens": 4})
        plain_s = timed(lambda: plain({"raw": audio, "sampling_rate": rate}, **options), rounds)
        result = {
            "bench": "asr", "audio": name, "audio_s": round(seconds, 1), "threads": torch.get_num_threads(),
            "tokens": tokens, "faster_whisper_windows": windows, "plain_chunks": plain_chunks, "tokens_per_plain_chunk": per_chunk,
            "modeldeck_s": round(deck_s, 3), "modeldeck_rtf": round(deck_s / seconds, 4),
            "modeldeck_beam5_s": round(deck_beam5_s, 3), "modeldeck_beam5_rtf": round(deck_beam5_s / seconds, 4),
            "transformers_pipeline_s": round(plain_s, 3), "transformers_pipeline_rtf": round(plain_s / seconds, 4),
            "speedup": round(plain_s / deck_s, 2),
        }
        results.append(result)
        print(json.dumps(result), flush=True)
        rows.append(
            f"| {name}, Whisper tiny.en, CPU | transformers pipeline {plain_s:.2f} s (RTF {plain_s / seconds:.3f}) | "
            f"modeldeck {deck_s:.2f} s (RTF {deck_s / seconds:.3f}; beam 5: RTF {deck_beam5_s / seconds:.3f}) | "
            f"{plain_s / deck_s:.1f}x |"
        )
    print("| job | plain | modeldeck | speedup |\n| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
