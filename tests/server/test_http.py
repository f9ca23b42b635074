"""Routes InferenceClient has no method for (httpx), errors, the API key, limits and the service routes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import DATA
from tests.server.conftest import start_server

CATS = (DATA / "coco-000000039769-cats.png").read_bytes()
JFK = (DATA / "jfk.flac").read_bytes()
B64_CATS = base64.b64encode(CATS).decode()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=300) as client:
        yield client


def test_depth_from_raw_bytes(http):
    answer = http.post("/models/Intel/dpt-hybrid-midas", content=CATS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert base64.b64decode(body["depth"]).startswith(b"\x89PNG") and body["min"] <= body["max"]


def test_masks_with_a_point(http):
    answer = http.post("/models/Zigeng/SlimSAM-uniform-77/pipeline/mask-generation",
                       json={"inputs": B64_CATS, "parameters": {"points": [[100, 100]], "multimask": False}})
    assert answer.status_code == 200, answer.text
    masks = answer.json()
    assert masks and base64.b64decode(masks[0]["mask"]).startswith(b"\x89PNG")


def test_image_text_matching(http):
    answer = http.post("/models/Salesforce/blip-itm-base-coco",
                       json={"inputs": {"text": "two cats", "image": [B64_CATS, B64_CATS]}})
    assert answer.status_code == 200, answer.text
    ranked = answer.json()
    assert len(ranked) == 2 and {r["image"] for r in ranked} == {0, 1}


def test_zero_shot_audio(http):
    answer = http.post("/models/laion/clap-htsat-unfused", json={
        "inputs": base64.b64encode(JFK).decode(), "parameters": {"candidate_labels": ["speech", "music"]}})
    assert answer.status_code == 200, answer.text
    assert sorted(x["label"] for x in answer.json()) == ["music", "speech"]


def test_inpainting_answers_png(http):
    answer = http.post("/models/CompVis/stable-diffusion-v1-4/pipeline/inpainting", json={
        "inputs": {"image": B64_CATS, "mask": B64_CATS, "prompt": "a dog"},
        "parameters": {"steps": 2, "width": 64, "height": 64}})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png" and answer.content.startswith(b"\x89PNG")


def test_chat_in_the_task_dialect(http):
    answer = http.post("/models/facebook/blenderbot-400M-distill", json={"inputs": "Hello!",
                                                                         "parameters": {"max_new_tokens": 5}})
    assert answer.status_code == 200 and answer.json()["role"] == "assistant"


@pytest.mark.parametrize("payload,status,named", [
    ({"inputs": ""}, 400, "text"),  # blank text
    ({"inputs": "Hi", "parameters": {"top_k": "many"}}, 400, "top_k"),
    ({"inputs": "Hi", "parameters": {"top_k": -3}}, 400, "top_k"),
    ({"inputs": "Hi", "parameters": {"colour": 1}}, 400, "colour"),
    ({"parameters": {}}, 400, "inputs"),
    ("not json{", 422, "JSON"),
])
def test_bad_input_is_4xx_naming_the_field(http, payload, status, named):
    url = "/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    answer = (http.post(url, content=payload, headers={"content-type": "application/json"})
              if isinstance(payload, str) else http.post(url, json=payload))
    assert answer.status_code == status, answer.text
    assert named in answer.json()["error"]


def test_media_inputs_are_never_paths_or_urls(http):
    for value, words in (("/etc/passwd", "base64"), ("http://127.0.0.1:1/cat.png", "does not fetch URLs")):
        answer = http.post("/models/facebook/detr-resnet-50/pipeline/object-detection",
                           json={"inputs": value if value.startswith("http") else value * 10})
        assert answer.status_code == 400, answer.text
        assert words in answer.json()["error"]
    answer = http.post("/models/facebook/detr-resnet-50", content=b"\x89PNG not really a picture")
    assert answer.status_code == 400 and "image" in answer.json()["error"]


def test_model_ids_that_are_folders_are_refused(http):
    for model in ("src/modeldeck", "..%2F..%2Fetc"):
        answer = http.post(f"/models/{model}/pipeline/fill-mask", json={"inputs": "a [MASK]"})
        assert answer.status_code in (400, 422), answer.text


def test_wrong_task_for_the_model(http):
    answer = http.post("/models/gpt2/pipeline/fill-mask", json={"inputs": "a [MASK]"})
    assert answer.status_code == 400 and "serves: text-generation" in answer.json()["error"]


def test_health_ready_metrics_and_docs(http):
    assert http.get("/health").json() == {"status": "ok"}
    http.post("/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english", json={"inputs": "fine"})
    ready = http.get("/ready").json()
    assert ready["ready"] and any(m["task"] == "text-classification" for m in ready["models"])
    metrics = http.get("/metrics").text
    for name in ("modeldeck_requests_total", "modeldeck_request_seconds_bucket", "modeldeck_model_loaded",
                 "modeldeck_model_memory_bytes", "modeldeck_batches_total", "modeldeck_engine_queue_depth"):
        assert name in metrics
    assert 'route="/models/{model_id:path}"' in metrics  # labelled by route, not by raw path
    schema = http.get("/openapi.json").json()
    body = schema["paths"]["/models/{model_id}/pipeline/fill-mask"]["post"]["requestBody"]
    assert "top_k" in body["content"]["application/json"]["schema"]["properties"]["parameters"]["properties"]
    assert http.get("/docs").status_code == 200


def test_a_client_that_leaves_mid_stream_stops_its_generation(http, server):
    long = {"max_new_tokens": 1000, "do_sample": False}
    # loaded first: a load timed into the whole generation would loosen the bound below
    assert http.post("/models/gpt2", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}}).status_code == 200
    started = time.monotonic()  # what the whole generation costs here: the bound a stream left early must beat
    assert http.post("/models/gpt2", json={"inputs": "Once upon a time", "parameters": long}).status_code == 200
    whole = time.monotonic() - started
    body = {"inputs": "Once upon a time", "parameters": long, "stream": True}
    with http.stream("POST", "/models/gpt2", json=body) as answer:
        for line in answer.iter_lines():
            if line.startswith("data:"):
                break
    left = time.monotonic()
    # The generation stopped: the model answers the next request at once, not after 1,000 tokens.
    quick = http.post("/models/gpt2", json={"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
    assert quick.status_code == 200
    waited = time.monotonic() - left
    assert waited < whole / 3, f"the next request waited {waited:.1f} s; the whole generation takes {whole:.1f} s"


@pytest.fixture(scope="module")
def locked(fixture_hub):
    started = start_server("--api-key", "s3cret", "--max-body-mb", "0.01", "--tasks", "text-classification")
    yield started
    started.stop()


def test_api_key_is_required(locked):
    url = f"{locked.url}/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    assert httpx.post(url, json={"inputs": "ok"}).status_code == 401
    wrong = httpx.post(url, json={"inputs": "ok"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    right = httpx.post(url, json={"inputs": "ok"}, headers={"Authorization": "Bearer s3cret"}, timeout=120)
    assert right.status_code == 200
    assert httpx.get(f"{locked.url}/health").status_code == 200  # probes need no key
    openai_shape = httpx.post(f"{locked.url}/v1/embeddings", json={}).json()
    assert openai_shape["error"]["type"] == "authentication_error"


def test_body_limit_is_413(locked):
    answer = httpx.post(f"{locked.url}/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                        json={"inputs": "x" * 20_000}, headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 413 and "limit" in answer.json()["error"]


def test_only_the_tasks_asked_for_are_served(locked):
    paths = httpx.get(f"{locked.url}/openapi.json", headers={"Authorization": "Bearer s3cret"}).json()["paths"]
    assert "/models/{model_id}/pipeline/text-classification" in paths
    assert "/models/{model_id}/pipeline/fill-mask" not in paths and "/v1/embeddings" not in paths


def test_refuses_to_start_off_loopback_without_a_key():
    done = subprocess.run([sys.executable, "-m", "modeldeck", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "needs an API key" in done.stderr


def test_a_blank_key_is_no_key():
    env = {**os.environ, "MODELDECK_API_KEY": "   "}
    done = subprocess.run([sys.executable, "-m", "modeldeck", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode != 0 and "only spaces" in done.stderr and "Traceback" not in done.stderr


def test_curl_d_json_without_a_content_type_is_read_as_json(server):
    """curl -d labels its body application/x-www-form-urlencoded; the hosted API reads JSON anyway, and so does
    modeldeck (the nesting limit still holds)."""
    import subprocess

    url = f"{server.url}/models/distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    done = subprocess.run(["curl", "-s", url, "-d", '{"inputs": "I love this!"}'], capture_output=True, text=True,
                          timeout=120)
    labels = json.loads(done.stdout)
    assert {row["label"] for row in labels[0]} == {"POSITIVE", "NEGATIVE"}, done.stdout
    deep = "[" * 100 + "]" * 100
    answer = httpx.post(url, content=deep, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    assert answer.status_code == 400 and "nests deeper" in answer.json()["error"]
