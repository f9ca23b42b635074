"""huggingface_hub.InferenceClient, unchanged but for the URL, against modeldeck serve (fixture hub)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def results(server, client_env) -> dict:
    """Every InferenceClient check, run once in a subprocess with HF_HUB_OFFLINE unset."""
    done = subprocess.run([sys.executable, str(HERE / "hf_client.py"), server.url], capture_output=True, text=True,
                          env=client_env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def ok(results, name):
    entry = results[name]
    assert "ok" in entry, f"{name} failed: {entry}"
    return entry["ok"]


def test_feature_extraction_and_similarity(results):
    vectors = ok(results, "feature_extraction")
    assert len(vectors) == 1 and len(vectors[0]) > 8 and all(isinstance(x, float) for x in vectors[0])
    scores = ok(results, "sentence_similarity")
    assert len(scores) == 2 and all(-1.001 <= s <= 1.001 for s in scores)


def test_text_classification_and_fill_mask(results):
    labels = ok(results, "text_classification")
    assert {x["label"] for x in labels} == {"POSITIVE", "NEGATIVE"}
    assert abs(sum(x["score"] for x in labels) - 1) < 1e-4
    candidates = ok(results, "fill_mask")
    assert len(candidates) == 3 and all(c["sequence"].startswith("paris is the ") for c in candidates)


def test_generative_text_tasks(results):
    assert ok(results, "summarization")["summary_text"].strip()
    assert ok(results, "translation")["translation_text"].strip()
    continuation = ok(results, "text_generation")
    assert continuation and not continuation.startswith("Once upon a time")  # the continuation only, as hosted
    pieces = ok(results, "text_generation_stream")
    assert "".join(pieces) == continuation  # same greedy text, streamed


def test_text_generation_details_in_tgis_shape_streamed_or_not(results):
    continuation = ok(results, "text_generation")
    whole = ok(results, "text_generation_details")
    details = whole["details"]
    assert whole["generated_text"] == continuation
    assert details["finish_reason"] == "length" and details["generated_tokens"] == 5 and len(details["tokens"]) == 5
    assert all(isinstance(t["id"], int) and t["logprob"] <= 0 and not t["special"] for t in details["tokens"])
    assert "".join(t["text"] for t in details["tokens"]) == continuation
    events = ok(results, "text_generation_details_stream")
    assert "".join(e["token"]["text"] for e in events) == continuation
    assert [e["token"]["id"] for e in events] == [t["id"] for t in details["tokens"]]  # one token per piece here
    assert [round(e["token"]["logprob"], 4) for e in events] == [round(t["logprob"], 4) for t in details["tokens"]]
    last = events[-1]
    assert last["generated_text"] == continuation and all(e["details"] is None for e in events[:-1])
    assert last["details"]["finish_reason"] == "length" and last["details"]["generated_tokens"] == 5
    assert last["details"]["input_length"] == 4  # "Once upon a time" in GPT-2 tokens
    assert "".join(ok(results, "text_generation_stream_after_details")) == continuation  # later streams still work


def test_chat_completion_plain_stream_and_base_url(results):
    reply = ok(results, "chat_completion")
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["message"]["content"].strip()
    assert reply["usage"]["prompt_tokens"] > 0
    streamed = [p for p in ok(results, "chat_completion_stream") if p]
    assert "".join(streamed).strip()
    assert ok(results, "base_url_chat")["choices"][0]["message"]["content"].strip()


def test_question_answering(results):
    answer = ok(results, "question_answering")
    context = "My name is Clara and I live in Berkeley."
    assert context[answer["start"]:answer["end"]] == answer["answer"]


def test_speech_tasks(results):
    transcript = ok(results, "automatic_speech_recognition")
    assert isinstance(transcript["text"], str) and transcript["chunks"]
    audio = ok(results, "text_to_speech")
    assert audio["bytes"] > 1000 and audio["head"] == b"RIFF".hex()  # a WAV file


def test_vision_tasks(results):
    assert ok(results, "object_detection") == [] or all("box" in b for b in ok(results, "object_detection"))
    boxes = ok(results, "object_detection_threshold")  # threshold sent: base64 JSON instead of raw bytes
    assert boxes and all(set(b["box"]) == {"xmin", "ymin", "xmax", "ymax"} for b in boxes)
    assert ok(results, "image_to_text")["generated_text"].strip()
    answers = ok(results, "visual_question_answering")
    assert answers and answers[0]["answer"]
    labels = ok(results, "zero_shot_image_classification")
    assert sorted(x["label"] for x in labels) == ["cats", "dogs"]


def test_image_generation(results):
    assert ok(results, "text_to_image") == {"image": [64, 64]}
    assert ok(results, "image_to_image") == {"image": [64, 64]}


def test_a_task_the_model_does_not_serve_is_400_naming_the_models_tasks(results):  # sst-2 is no NLI model
    entry = results["zero_shot_classification"]
    assert entry["status"] == 400
    assert "serves text-classification" in entry["message"] and "candidate_labels" in entry["message"]


def test_missing_model_is_404_naming_pull(results):
    entry = results["missing_model"]
    assert entry["status"] == 404 and "modeldeck pull nobody/no-such-model" in entry["message"]
