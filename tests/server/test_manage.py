"""modeldeck ps / modeldeck stop against a running server and web UI (GET /api/ps, POST /api/stop), behind the key;
/v1/models lists only what can answer here."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tests.server.conftest import start_server

http = httpx.Client(timeout=120)  # the first call loads the model in the server


def test_ps_shows_what_the_server_holds_and_stop_unloads_it(server, cli):
    answer = http.post(f"{server.url}/models/gpt2", json={"inputs": "Hello", "parameters": {"max_new_tokens": 2}})
    assert answer.status_code == 200, answer.text
    rows = http.get(f"{server.url}/api/ps").json()["models"]
    row = next(r for r in rows if r["model"] == "gpt2")
    assert row["task"] == "text-generation" and row["device"] == "cpu" and row["runtime"] == "torch"
    assert row["precision"] == "fp32" and row["predicted_bytes"] > 0 and row["answered"] >= 1
    assert row["queue_depth"] == 0 and row["in_flight"] == 0

    shown = cli("ps", "--url", server.url)
    assert shown.code == 0, shown.err
    header = next(line for line in shown.out.splitlines() if "MODEL" in line)
    assert header.split() == ["MODEL", "TASK", "DEVICE", "RUNTIME", "DTYPE", "MEMORY", "QUEUE", "SERVED"]
    line = next(line for line in shown.out.splitlines() if line.split()[:2] == ["gpt2", "text-generation"])
    assert "fp32" in line and "0 waiting, 0 in flight" in line
    assert json.loads(cli("ps", "--url", server.url, "--json").out)[0]["url"] == server.url

    stopped = cli("stop", "gpt2", "--url", server.url)
    assert stopped.code == 0 and f"Stopped gpt2 (text-generation) at {server.url}" in stopped.out
    assert "gpt2" not in [r["model"] for r in http.get(f"{server.url}/api/ps").json()["models"]]
    again = cli("stop", "gpt2", "--url", server.url)
    assert again.code == 1 and "gpt2 is not loaded here" in again.err
    answer = http.post(f"{server.url}/models/gpt2", json={"inputs": "Hello", "parameters": {"max_new_tokens": 2}})
    assert answer.status_code == 200  # the next request loads it again


def test_stop_takes_an_openai_name_and_bad_bodies_are_4xx(server):
    import openai

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    done = http.post(f"{server.url}/api/stop", json={"model": "text-embedding-3-small"})
    assert done.status_code == 200 and done.json()["stopped"][0]["task"] == "feature-extraction"
    assert http.post(f"{server.url}/api/stop", json={}).status_code == 422
    assert http.post(f"{server.url}/api/stop", json={"model": "org/none"}).status_code == 404


def test_nothing_answering_is_one_clear_line(cli):
    result = cli("ps", "--url", "http://127.0.0.1:9")
    assert result.code == 1 and "No modeldeck server or UI answers at http://127.0.0.1:9" in result.err


@pytest.fixture(scope="module")
def keyed_server():
    started = start_server("--api-key", "s3cret", "--tasks", "text-generation")
    yield started
    started.stop()


def test_ps_and_stop_need_the_key_like_every_route(keyed_server, cli, monkeypatch):
    assert http.get(f"{keyed_server.url}/api/ps").status_code == 401
    assert http.post(f"{keyed_server.url}/api/stop", json={"model": "gpt2"}).status_code == 401
    refused = cli("ps", "--url", keyed_server.url)
    assert refused.code == 1 and "needs its API key" in refused.err
    monkeypatch.setenv("MODELDECK_API_KEY", "s3cret")
    assert cli("ps", "--url", keyed_server.url).out.strip().endswith("no model loaded")


def test_ps_and_stop_against_a_running_web_ui(cli, monkeypatch):
    pytest.importorskip("gradio")
    from modeldeck.ui.app import build_app, launch
    from modeldeck.ui.auth import key_auth

    app = build_app(["text-generation"])
    url = launch(app).rstrip("/")
    try:
        tab = app.modeldeck_tabs["text-generation"]
        tab.call(tab.values({"text": "Hello"}, {"max_new_tokens": 2}), progress=lambda *a, **k: None)
        shown = cli("ps", "--url", url)
        assert shown.code == 0 and any(line.split()[:2] == ["gpt2", "text-generation"] for line in shown.out.splitlines())
        stopped = cli("stop", "gpt2", "--url", url)
        assert stopped.code == 0 and "Stopped gpt2 (text-generation)" in stopped.out
        assert "gpt2" not in [r["model"] for r in http.get(f"{url}/api/ps").json()["models"]]
    finally:
        app.close()
    monkeypatch.setenv("MODELDECK_API_KEY", "s3cret")
    app = build_app(["text-generation"])
    url = launch(app, auth=key_auth("s3cret")).rstrip("/")
    try:
        assert http.get(f"{url}/api/ps").status_code == 401
        ok = http.get(f"{url}/api/ps", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "models" in ok.json()
    finally:
        app.close()


def test_models_lists_openai_names_only_where_their_model_is_here(tmp_path, server):
    import openai

    listed = {m.id for m in openai.OpenAI(base_url=f"{server.url}/v1", api_key="x").models.list()}
    assert {"dall-e-2", "whisper-1", "tts-1"} <= listed  # the fixture hub has Stable Diffusion
    empty = tmp_path / "hub"
    empty.mkdir()
    bare = start_server(env={**os.environ, "HF_HUB_CACHE": str(empty)})
    try:
        rows = {m["id"]: m for m in http.get(f"{bare.url}/v1/models").json()["data"]}
    finally:
        bare.stop()
    assert not {"dall-e-2", "dall-e-3", "gpt-image-1"} & set(rows)  # no Stable Diffusion on this machine
    assert {"whisper-1", "tts-1", "text-embedding-3-small"} <= set(rows)  # packaged models answer these
    assert "sentence-transformers/all-MiniLM-L6-v2" in rows and "gpt2" not in rows
