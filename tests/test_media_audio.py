"""Audio decoding (files, bytes, base64, arrays), down-mixing, resampling, writing; clear errors for bad input."""

import base64

import numpy as np
import pytest
import soundfile

from modeldeck.errors import InvalidInput
from modeldeck.media.audio import encode, load_audio, write_audio

from .conftest import DATA

JFK = DATA / "jfk.flac"  # 11.0 s, 44.1 kHz, stereo


def tone(seconds=1.0, rate=16000, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_file_is_downmixed_and_resampled_to_the_asked_rate():
    audio, rate = load_audio(JFK, 16000)
    assert rate == 16000 and audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == pytest.approx(11.0 * 16000, abs=16)
    raw, raw_rate = soundfile.read(JFK, dtype="float32")
    assert raw_rate == 44100 and raw.shape[1] == 2
    native, native_rate = load_audio(str(JFK))
    assert native_rate == 44100
    np.testing.assert_allclose(native, raw.mean(axis=1), atol=1e-6)


def test_bytes_base64_and_data_uri_decode_the_same():
    data = JFK.read_bytes()
    expected, _ = load_audio(JFK, 16000)
    for source in (data, base64.b64encode(data).decode(), "data:audio/flac;base64," + base64.b64encode(data).decode()):
        audio, rate = load_audio(source, 16000)
        assert rate == 16000
        np.testing.assert_array_equal(audio, expected)


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg", "mp3"])
def test_written_formats_read_back(tmp_path, suffix):
    signal = tone(1.0, 22050)
    path = write_audio(tmp_path / f"tone.{suffix}", signal, 22050)
    audio, rate = load_audio(path, 16000)
    assert rate == 16000
    assert abs(len(audio) - 16000) < 0.1 * 16000  # mp3 adds encoder padding
    assert 0.3 < np.abs(audio).max() <= 1.0


def test_arrays_take_any_channel_layout_and_integer_pcm():
    mono = tone(0.5, 8000)
    stereo_first = np.stack([mono, mono])  # (channels, samples)
    stereo_last = stereo_first.T  # (samples, channels)
    for source in ((mono, 8000), (stereo_first, 8000), (stereo_last, 8000), {"array": mono, "sampling_rate": 8000},
                   {"raw": mono, "sampling_rate": 8000}):
        audio, rate = load_audio(source)
        assert rate == 8000 and audio.shape == (4000,)
        np.testing.assert_allclose(audio, mono, atol=1e-6)
    pcm = (mono * 32768).astype(np.int16)
    audio, _ = load_audio((pcm, 8000))
    np.testing.assert_allclose(audio, mono, atol=1e-4)
    resampled, rate = load_audio((mono, 8000), 16000)
    assert rate == 16000 and len(resampled) == 8000


def test_wav_bytes_round_trip():
    signal = tone(0.25, 16000)
    audio, rate = load_audio(encode(signal, 16000, "wav")[0])
    assert rate == 16000
    np.testing.assert_allclose(audio, signal, atol=1e-4)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (JFK.read_bytes()[:3000], "could not be decoded"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(200)), "could not be decoded"),
        ((DATA / "coco-000000039769-cats.png").read_bytes(), "PNG image"),
        (b"hello, this is not a sound\n", "text file"),
    ],
    ids=["empty", "truncated", "corrupt-header", "png", "text"],
)
def test_bad_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "input.wav"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as error:
        load_audio(path, 16000)
    assert error.value.hint  # says what to give instead


@pytest.mark.parametrize(
    "source, message",
    [
        ((np.zeros(0, dtype=np.float32), 16000), "empty"),
        ((np.zeros(100, dtype=np.float32), 0), "sampling rate"),
        ((np.zeros(100, dtype=np.float32), -8000), "sampling rate"),
        ((np.zeros(100, dtype=np.float32), "16k"), "sampling rate"),
        ((np.array([0.1, np.nan], dtype=np.float32), 16000), "NaN"),
        (np.zeros(100, dtype=np.float32), "no sampling rate"),
        ("/no/such/file.wav", "No audio file"),
        ("https://example.com/a.wav", "URL"),
        (b"", "empty"),
        (42, "Cannot read"),
    ],
)
def test_bad_values_name_the_problem(source, message):
    with pytest.raises(InvalidInput, match=message):
        load_audio(source, 16000)


def test_a_python_list_of_int16_samples_is_not_silence():
    from modeldeck.media.audio import load_audio

    audio, rate = load_audio(([0, 16000, -16000, 32000] * 4000, 16000))
    assert rate == 16000 and abs(audio).max() == pytest.approx(32000 / 32768)
