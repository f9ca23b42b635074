"""Speech tasks on the fixture hub (tiny random Whisper, VITS and CLAP under the real ids).

Random weights give garbage words, so these check shapes, types, ranges,
determinism, that parameters take effect, the CLI surfaces, and parity with
the transformers pipelines on the same tiny weights.
"""

import json

import numpy as np
import pytest
import soundfile

import modeldeck
from modeldeck.errors import InvalidInput, ModelNotAvailable
from modeldeck.hub import resolve
from modeldeck.media.audio import load_audio
from modeldeck.pipelines.automatic_speech_recognition import Transcript, tidy_chunks
from modeldeck.pipelines.text_to_speech import split_sentences

from ..conftest import DATA

JFK = str(DATA / "jfk.flac")
WHISPER = "openai/whisper-base"
FEW = {"max_new_tokens": 6}  # random weights never stop on their own; keep decoding short


# -- automatic-speech-recognition (transformers Whisper) -------------------------------------


def check_transcript(result, duration):
    assert set(result) == {"text", "chunks"} and isinstance(result["text"], str)
    starts = [c["timestamp"][0] for c in result["chunks"]]
    assert starts == sorted(starts)
    for chunk in result["chunks"]:
        start, end = chunk["timestamp"]
        assert 0 <= start <= end <= duration + 1e-6 and chunk["text"]


def test_asr_transformers_backend_gives_text_and_timestamped_chunks():
    runner = modeldeck.load("automatic-speech-recognition")
    with runner.leased() as state:
        assert state.backend == "transformers" and runner.model_id == WHISPER
    result = runner(JFK, **FEW)
    check_transcript(result, 11.0)
    assert result == runner(JFK, **FEW)  # greedy decoding: same audio, same transcript


def test_asr_matches_plain_transformers_pipeline_on_same_weights():
    from transformers import pipeline

    audio, _ = load_audio(JFK, 16000)
    plain = pipeline("automatic-speech-recognition", model=str(resolve(WHISPER).path), device="cpu")
    expected = plain({"raw": audio, "sampling_rate": 16000}, return_timestamps=True,
                     generate_kwargs={"task": "transcribe", **FEW})
    got = modeldeck.run("automatic-speech-recognition", JFK, **FEW)
    assert got["text"] == expected["text"].strip()
    assert [c["text"] for c in got["chunks"]] == [c["text"].strip() for c in expected["chunks"] if c["text"].strip()]


def test_asr_accepts_bytes_arrays_at_any_rate_and_stereo():
    expected = modeldeck.run("automatic-speech-recognition", JFK, **FEW)
    raw, rate = soundfile.read(JFK, dtype="float32")  # 44.1 kHz stereo
    assert modeldeck.run("automatic-speech-recognition", (raw, rate), **FEW)["text"] == expected["text"]
    assert modeldeck.run("automatic-speech-recognition", open(JFK, "rb").read(), **FEW)["text"] == expected["text"]


def test_asr_params_take_effect():
    runner = modeldeck.load("automatic-speech-recognition")
    base = runner(JFK, **FEW)
    words = runner(JFK, timestamps="word", **FEW)
    check_transcript(words, 11.0)
    assert len(words["chunks"]) >= len(base["chunks"])
    assert runner(JFK, language="fr", **FEW) != runner(JFK, language="de", **FEW)  # forced language token
    assert runner(JFK, translate=True, **FEW) != base  # forced <|translate|>
    assert len(runner(JFK, max_new_tokens=2)["text"]) < len(runner(JFK, max_new_tokens=12)["text"])


@pytest.mark.parametrize("params, message", [
    ({"language": "klingon"}, "Unknown language"),
    ({"timestamps": "char"}, "timestamps must be one of"),
    ({"format": "docx"}, "format must be one of"),
    ({"beam_size": 0}, "beam_size"),
])
def test_asr_bad_params_are_clear(params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("automatic-speech-recognition", JFK, **params)


def test_asr_long_audio_in_batched_overlapping_chunks_keeps_times_in_order():
    audio, _ = load_audio(JFK, 16000)
    long = np.tile(audio, 4)  # 44 s: two 30 s chunks with 5 s overlap
    result = modeldeck.run("automatic-speech-recognition", (long, 16000), batch_size=2, **FEW)
    check_transcript(result, 44.0)


def test_tidy_chunks_settles_open_and_out_of_order_times():
    chunks = [{"text": " a", "timestamp": (1.0, 15.0)}, {"text": "b", "timestamp": (40.0, 35.0)},
              {"text": "", "timestamp": (35.0, 36.0)}, {"text": "c", "timestamp": (2.0, None)}]
    assert tidy_chunks(chunks, 11.0) == [
        {"text": "a", "timestamp": [1.0, 11.0]}, {"text": "b", "timestamp": [11.0, 11.0]},
        {"text": "c", "timestamp": [11.0, 11.0]},
    ]


def test_subtitle_formats():
    result = Transcript(text="Hello there. General Kenobi.", chunks=[
        {"text": "Hello there.", "timestamp": [0.0, 1.5]}, {"text": "General Kenobi.", "timestamp": [61.25, 3725.125]}])
    assert result.to("srt") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:01:01,250 --> 01:02:05,125\nGeneral Kenobi.\n")
    assert result.to("vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n00:01:01.250 --> 01:02:05.125\nGeneral Kenobi.\n")
    assert result.to("txt") == "Hello there. General Kenobi.\n"


def test_asr_cli_json_format_and_output_file(cli, tmp_path):
    args = ("run", "automatic-speech-recognition", JFK, "--max-new-tokens", "6")
    done = cli(*args, "--json")
    assert done.code == 0, done.err
    check_transcript(json.loads(done.out), 11.0)
    srt = cli(*args, "--format", "srt")
    assert srt.code == 0 and srt.out.startswith("1\n00:00:") and " --> " in srt.out
    vtt_file = tmp_path / "out.vtt"
    assert cli(*args, "-o", str(vtt_file)).code == 0
    assert vtt_file.read_text().startswith("WEBVTT\n\n00:00:")
    txt_file = tmp_path / "out.subs"
    assert cli(*args, "--format", "srt", "-o", str(txt_file)).code == 0
    assert txt_file.read_text().startswith("1\n00:00:")  # --format wins over the suffix
    assert cli(*args, "--format", "docx").code != 0


@pytest.mark.parametrize("content", [b"", b"not audio at all, just text\n", None], ids=["empty", "text", "png"])
def test_asr_cli_bad_audio_is_one_clear_line(cli, tmp_path, content):
    path = tmp_path / "input.wav"
    path.write_bytes(content if content is not None else (DATA / "coco-000000039769-cats.png").read_bytes())
    done = cli("run", "automatic-speech-recognition", str(path))
    assert done.code != 0 and "Error:" in done.err and "Traceback" not in done.err
    assert "input.wav" in done.err


def test_named_model_is_never_swapped_for_the_offline_default(empty_cache):
    from modeldeck.pool import Pool

    with pytest.raises(ModelNotAvailable, match="modeldeck pull openai/whisper-base"):
        Pool().get("automatic-speech-recognition", WHISPER)


# -- text-to-speech (transformers VITS) ------------------------------------------------------


def test_tts_vits_returns_float_waveform_and_rate():
    runner = modeldeck.load("text-to-speech")
    with runner.leased() as state:
        assert state.backend == "transformers"
    result = runner("Hello world.", seed=0)
    assert set(result) == {"audio", "sampling_rate"} and result["sampling_rate"] == 22050
    audio = result["audio"]
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1 and len(audio) > 0
    assert np.abs(audio).max() <= 1.0


def test_tts_seed_makes_it_repeatable_and_speed_takes_effect():
    runner = modeldeck.load("text-to-speech")
    text = "A short test sentence for the voice."
    first, again = runner(text, seed=3)["audio"], runner(text, seed=3)["audio"]
    np.testing.assert_array_equal(first, again)
    assert len(runner(text, seed=3, speed=2.0)["audio"]) < len(first) < len(runner(text, seed=3, speed=0.5)["audio"])


def test_tts_matches_transformers_text_to_audio_pipeline():
    import torch
    from transformers import pipeline

    plain = pipeline("text-to-audio", model=str(resolve("kakao-enterprise/vits-ljs").path), device="cpu")
    torch.manual_seed(7)
    expected = plain("The same sentence, the same seed.")
    got = modeldeck.run("text-to-speech", "The same sentence, the same seed.", seed=7)
    assert got["sampling_rate"] == expected["sampling_rate"]
    np.testing.assert_allclose(got["audio"], np.asarray(expected["audio"]).reshape(-1), atol=1e-5)


def test_tts_long_text_is_spoken_sentence_by_sentence_and_joined():
    runner = modeldeck.load("text-to-speech")
    one = runner("The first sentence is here.", seed=1, sentence_silence=0.0)["audio"]
    two = runner("The first sentence is here. And a second one follows!", seed=1, sentence_silence=0.5)
    assert len(two["audio"]) > len(one) + int(0.5 * 22050)
    np.testing.assert_array_equal(two["audio"][: len(one)], one)  # first sentence alone, then the gap
    assert not two["audio"][len(one) : len(one) + int(0.5 * 22050)].any()


def test_split_sentences():
    assert split_sentences("One. Two!  Three?\n\nFour") == ["One.", "Two!", "Three?", "Four"]
    long = ", ".join(["a clause of several words"] * 40) + "."
    pieces = split_sentences(long, max_chars=100)
    assert all(len(p) <= 100 for p in pieces) and " ".join(pieces) == long


def test_tts_cli_writes_wav(cli, tmp_path):
    out = tmp_path / "speech.wav"
    done = cli("run", "text-to-speech", "Hello from the command line.", "--seed", "0", "-o", str(out))
    assert done.code == 0, done.err
    audio, rate = soundfile.read(out)
    assert rate == 22050 and len(audio) > 0
    told = cli("run", "text-to-speech", "Hello.")
    assert told.code == 0 and "22050 Hz" in told.out and "-o" in told.out


@pytest.mark.parametrize("text, params, message", [
    ("", {}, "empty"), ("...", {}, "nothing to speak"), ("Hi.", {"speed": 0}, "speed"), ("Hi.", {"speaker": 3}, "speaker"),
])
def test_tts_bad_input(text, params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("text-to-speech", text, **params)


# -- zero-shot-audio-classification (CLAP) ---------------------------------------------------

LABELS = ["a man giving a speech", "a dog barking", "piano music"]


def clip(seconds):
    audio, _ = load_audio(JFK, 48000)
    return (audio[: int(seconds * 48000)], 48000)


def test_clap_probabilities_sum_to_one_best_first():
    result = modeldeck.run("zero-shot-audio-classification", clip(5), candidate_labels=LABELS)
    assert sorted(r["label"] for r in result) == sorted(LABELS)
    assert sum(r["score"] for r in result) == pytest.approx(1.0, abs=1e-5)
    assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)


def test_clap_matches_transformers_pipeline_on_a_short_clip():
    from transformers import pipeline

    plain = pipeline("zero-shot-audio-classification", model=str(resolve("laion/clap-htsat-unfused").path), device="cpu")
    audio, _ = clip(5)
    expected = plain(audio, candidate_labels=LABELS)
    got = modeldeck.run("zero-shot-audio-classification", (audio, 48000), candidate_labels=LABELS)
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_clap_long_audio_uses_every_window_deterministically():
    runner = modeldeck.load("zero-shot-audio-classification")
    first = runner(JFK, candidate_labels=LABELS)  # 11 s: two windows, no random crop
    assert first == runner(JFK, candidate_labels=LABELS)
    assert first != runner(clip(10), candidate_labels=LABELS)


def test_clap_template_and_cli(cli):
    runner = modeldeck.load("zero-shot-audio-classification")
    assert runner(clip(3), candidate_labels=LABELS) != runner(
        clip(3), candidate_labels=LABELS, hypothesis_template="The recording contains {}")
    done = cli("run", "zero-shot-audio-classification", JFK, "--candidate-labels", "speech,music", "--json")
    assert done.code == 0, done.err
    assert {r["label"] for r in json.loads(done.out)} == {"speech", "music"}


@pytest.mark.parametrize("params, message", [
    ({}, "candidate labels"), ({"candidate_labels": []}, "candidate labels"),
    ({"candidate_labels": ["a", " "]}, "non-empty"),
    ({"candidate_labels": ["a"], "hypothesis_template": "no slot"}, "must contain"),
])
def test_clap_bad_params(params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("zero-shot-audio-classification", clip(1), **params)


def test_clap_long_audio_runs_a_few_windows_per_pass(monkeypatch):
    import numpy as np

    from modeldeck.pipelines.zero_shot_audio_classification import ZeroShotAudioClassification
    from modeldeck.pool import Pool

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(48000 * 95).astype(np.float32) * 0.1, 48000)  # 10 windows of 10 s
    labels = ["noise", "speech", "music"]
    monkeypatch.setattr(ZeroShotAudioClassification, "max_batch_size", 3)
    threes = Pool(budget=None).get("zero-shot-audio-classification")
    in_threes = threes(audio, candidate_labels=labels)
    assert threes.stats()["forward_passes"] >= 5  # 10 windows and 3 sentences, 3 at a time
    monkeypatch.setattr(ZeroShotAudioClassification, "max_batch_size", 100)
    at_once = Pool(budget=None).get("zero-shot-audio-classification")(audio, candidate_labels=labels)
    assert [r["label"] for r in in_threes] == [r["label"] for r in at_once]
    assert [r["score"] for r in in_threes] == pytest.approx([r["score"] for r in at_once], abs=1e-5)
