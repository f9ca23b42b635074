"""A full queue is refused with 503 + Retry-After before anything is sent, streams included (in-process
app, a slowed model, the real openai client)."""

from __future__ import annotations

import threading
import time

import pytest

openai = pytest.importorskip("openai")


@pytest.fixture
def slowed_chat(monkeypatch):
    """Chat whose forward passes wait for ``release``; a pool of its own, so the slow model is not shared."""
    from modeldeck import pool as pool_module
    from modeldeck.pipelines.chat import Chat
    from tests.conftest import hold_forward

    entered, release = hold_forward(monkeypatch, Chat)
    monkeypatch.setattr(pool_module, "default_pool", pool_module.Pool(budget=None))
    yield entered, release
    release.set()


def test_a_full_queue_is_a_503_before_any_stream_starts(slowed_chat):
    from starlette.testclient import TestClient

    from modeldeck.server.app import create_app
    from modeldeck.server.config import ServerConfig

    entered, release = slowed_chat
    app = create_app(ServerConfig(tasks=("chat",), queue_size=1))
    with TestClient(app) as http:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=http, max_retries=0)
        messages = [{"role": "user", "content": "Hello there"}]
        first = {}
        busy = threading.Thread(target=lambda: first.update(answer=client.chat.completions.create(
            model="facebook/blenderbot-400M-distill", messages=messages, max_tokens=4)))
        busy.start()
        assert entered.wait(30)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="facebook/blenderbot-400M-distill", messages=messages,
                                           max_tokens=4, stream=True)
        assert refused.value.status_code == 503
        assert refused.value.response.headers["retry-after"] == "1"
        assert "waiting or running already" in refused.value.message
        assert time.monotonic() - started < 5  # at once, not after the first call
        release.set()
        busy.join(30)
        assert first["answer"].choices[0].message.content is not None
        chunks = list(client.chat.completions.create(model="facebook/blenderbot-400M-distill", messages=messages,
                                                     max_tokens=4, stream=True))
        assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
