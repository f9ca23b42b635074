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

Audio: jfk.flac (11 s) and 5 minutes of speech: jfk.flac once a minute, between
sentences spoken by the packaged Piper voice (not jfk alone repeated: 30 s
windows whose text repeats trip Whisper's repetition guard, which re-decodes
them at higher temperatures, and real speech does not do that).
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


SENTENCES = """\
The morning train to the coast was late again because of leaves on the line.
Maria planted tomatoes, basil and two rows of carrots behind the old barn.
A small bakery on the corner sells bread that is still warm at seven o'clock.
The museum opens a new exhibition about ancient maps next Thursday.
Please remember to water the plants and feed the cat while I am away.
Scientists measured the temperature of the lake every hour for three weeks.
The children built a wooden raft and floated it down the gentle river.
Our team finished the project two days early and celebrated with pizza.
Heavy snow closed the mountain pass, so the drivers waited in the village.
He practised the violin every evening until the melody sounded right.
The library is collecting old books for a charity sale in the spring.
A flock of geese flew south over the hills just before the first frost.
The recipe calls for one cup of flour, two eggs and a pinch of salt.
Engineers tested the bridge with heavy trucks before it opened to traffic.
She wrote a long letter to her grandmother describing the new apartment.
The football match was cancelled because the field was covered in water.
Every summer the town holds a festival with music, food and fireworks.
The doctor recommended more sleep, fresh vegetables and a daily walk.
A lighthouse on the rocky island has guided ships for two hundred years.
The students presented their research on solar panels to the whole school.""".splitlines()


def five_minutes_of_speech(jfk, rate: int, minutes: float):
    """jfk.flac about once a minute, Piper sentences between, 1 s pauses; ``minutes`` long."""
    import numpy as np

    import modeldeck
    from modeldeck.media.audio import load_audio

    tts = modeldeck.load("text-to-speech", "rhasspy/piper-voices/en_US-joe-medium", device="cpu")
    gap = np.zeros(rate, dtype=np.float32)
    spoken = []
    for sentence in SENTENCES:
        speech = tts(sentence)
        spoken.append(load_audio((speech["audio"], speech["sampling_rate"]), rate)[0])
    parts, total, index = [], 0, 0
    while total < minutes * 60 * rate:
        piece = jfk if index % 6 == 0 else spoken[index % len(spoken)]
        parts += [piece, gap]
        total += len(piece) + len(gap)
        index += 1
    return np.concatenate(parts)[: int(minutes * 60 * rate)]


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
    from pinning import pin

    machine = pin("torch", "fp32")  # modeldeck's ASR default is CTranslate2 int8 (faster-whisper) whatever is pinned

    import modeldeck
    from modeldeck.media.audio import load_audio

    runner = modeldeck.load("automatic-speech-recognition", PACKAGED, device="cpu")
    plain = tiny_en_pipeline()
    jfk, rate = load_audio(JFK, 16000)
    long = five_minutes_of_speech(jfk, rate, args.minutes)

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
            "bench": "asr", **machine, "audio": name, "audio_s": round(seconds, 1),
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
