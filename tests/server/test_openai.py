"""The openai package against modeldeck serve (fixture hub): chat, completions, embeddings, audio, images."""

from __future__ import annotations

import base64
import struct

import pytest

openai = pytest.importorskip("openai")

from tests.conftest import DATA

CHAT = "facebook/blenderbot-400M-distill"


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_chat_completion_with_usage_n_seed_and_stop(client):
    reply = client.chat.completions.create(
        model=CHAT, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=6, temperature=0.8, top_p=0.9, seed=7, n=2,
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.message.role == "assistant" and c.message.content.strip() for c in reply.choices)
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    again = client.chat.completions.create(model=CHAT, messages=[{"role": "system", "content": "Be brief."},
                                                                 {"role": "user", "content": "Hi"}],
                                           max_tokens=6, temperature=0.8, top_p=0.9, seed=7, n=2)
    assert [c.message.content for c in again.choices] == [c.message.content for c in reply.choices]  # seeded
    text = reply.choices[0].message.content
    cut = client.chat.completions.create(model=CHAT, messages=[{"role": "system", "content": "Be brief."},
                                                               {"role": "user", "content": "Hi"}],
                                         max_tokens=6, temperature=0.8, top_p=0.9, seed=7, stop=[text[2:5]])
    assert cut.choices[0].message.content == text[: text.index(text[2:5])]
    assert cut.choices[0].finish_reason == "stop"


def test_chat_streams_as_server_sent_events(client):
    plain = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hello"}], max_tokens=8)
    chunks = list(client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hello"}],
                                                 max_tokens=8, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_completions_plain_echo_and_stream(client):
    done = client.completions.create(model="gpt2", prompt="Once upon a time", max_tokens=4)
    assert done.choices[0].text and done.choices[0].finish_reason == "length"
    assert done.usage.completion_tokens == 4
    echoed = client.completions.create(model="gpt2", prompt="Once upon a time", max_tokens=4, echo=True)
    assert echoed.choices[0].text == "Once upon a time" + done.choices[0].text
    streamed = client.completions.create(model="gpt2", prompt="Once upon a time", max_tokens=4, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == done.choices[0].text


def test_embeddings_float_and_base64(client):
    floats = client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input=["one", "two"],
                                      encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1]
    vector = floats.data[0].embedding
    assert abs(sum(x * x for x in vector) - 1) < 1e-3  # normalised, as OpenAI's are
    packed = client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input="one",
                                      encoding_format="base64")
    raw = base64.b64decode(packed.data[0].embedding)
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert max(abs(a - b) for a, b in zip(decoded, vector)) < 1e-5
    default = client.embeddings.create(model="text-embedding-3-small", input="one")  # OpenAI name: the default model
    assert len(default.data[0].embedding) == len(vector)


def test_embeddings_refuse_other_dimensions(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input="one", dimensions=3)
    assert caught.value.body["param"] == "dimensions" and "dimension vectors" in caught.value.body["message"]


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
def test_transcriptions_in_every_format(client, fmt):
    with open(DATA / "jfk.flac", "rb") as f:
        result = client.audio.transcriptions.create(model="openai/whisper-base", file=f, response_format=fmt)
    if fmt == "json":
        assert isinstance(result.text, str)
    elif fmt == "text":
        assert isinstance(result, str)
    elif fmt == "srt":
        assert result.startswith("1\n00:00:")
    elif fmt == "vtt":
        assert result.startswith("WEBVTT")
    else:
        assert result.duration == pytest.approx(11.0, abs=0.1) and result.segments
        assert result.segments[0].start <= result.segments[0].end


def test_translation_and_word_timestamps(client):
    with open(DATA / "jfk.flac", "rb") as f:
        assert isinstance(client.audio.translations.create(model="whisper-1", file=f).text, str)
    with open(DATA / "jfk.flac", "rb") as f:
        words = client.audio.transcriptions.create(model="openai/whisper-base", file=f, response_format="verbose_json",
                                                   timestamp_granularities=["word"])
    assert words.words and all(w.start <= w.end for w in words.words)


def test_transcription_refuses_a_prompt_by_name(client):
    with open(DATA / "jfk.flac", "rb") as f, pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="whisper-1", file=f, prompt="JFK")
    assert caught.value.body["param"] == "prompt"


@pytest.mark.parametrize("fmt,magic", [("wav", b"RIFF"), ("flac", b"fLaC"), ("opus", b"OggS"), ("mp3", None),
                                       ("pcm", None)])
def test_speech_formats_and_voices(client, fmt, magic):
    audio = client.audio.speech.create(model="kakao-enterprise/vits-ljs", voice="alloy", input="Hello there.",
                                       response_format=fmt, speed=1.2)
    assert len(audio.content) > 1000
    if magic:
        assert audio.content.startswith(magic)


def test_speech_unknown_voice_lists_voices(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi")
    assert caught.value.body["param"] == "voice" and "alloy" in caught.value.body["message"]


def test_models_and_openai_errors(client):
    listed = [m.id for m in client.models.list().data]
    ids = set(listed)
    assert {CHAT, "gpt2", "whisper-1", "tts-1"} <= ids and len(listed) == len(ids)  # each model once
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nobody/nothing", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body["code"] == "model_not_found" and "modeldeck pull nobody/nothing" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sentence-transformers/all-MiniLM-L6-v2",
                                       messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hi"}],
                                       tools=[{"type": "function", "function": {"name": "f"}}])
    assert caught.value.body["param"] == "tools"
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Hi"}], temperature=9)
    assert caught.value.body["param"] == "temperature"


def test_images_generate_and_edit(client):
    made = client.images.generate(model="CompVis/stable-diffusion-v1-4", prompt="a red square", size="64x64", n=2,
                                  extra_body={"seed": 1})
    assert len(made.data) == 2 and base64.b64decode(made.data[0].b64_json).startswith(b"\x89PNG")
    with open(DATA / "coco-000000039769-cats.png", "rb") as image:
        edited = client.images.edit(model="CompVis/stable-diffusion-v1-4", image=image, prompt="a painting",
                                    size="64x64")
    assert base64.b64decode(edited.data[0].b64_json).startswith(b"\x89PNG")
