"""huggingface_hub.InferenceClient's classification, tagging and segmentation methods, unchanged but for
the URL, against modeldeck serve (fixture hub): each answers in the client's own types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import modeldeck
from tests.conftest import DATA

HERE = Path(__file__).parent
TEXT = "My name is Wolfgang and I live in Berlin."


@pytest.fixture(scope="module")
def results(server, client_env) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "hf_client_tasks.py"), server.url], capture_output=True,
                          text=True, env=client_env, timeout=600, check=False, cwd=HERE)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def ok(results, name):
    entry = results[name]
    assert "ok" in entry, f"{name} failed: {entry}"
    return entry["ok"]


def test_image_classification(results):
    labels = ok(results, "image_classification")
    expected = modeldeck.run("image-classification", str(DATA / "coco-000000039769-cats.png"))
    assert [x["label"] for x in labels] == [x["label"] for x in expected] and len(labels) == 5
    assert [x["score"] for x in labels] == pytest.approx([x["score"] for x in expected], abs=1e-6)
    assert len(ok(results, "image_classification_top_k")) == 3


def test_image_classification_on_a_detector_is_refused_never_answered_with_boxes(results):
    with_parameter = results["image_classification_on_detr"]
    assert with_parameter.get("status") == 400, with_parameter
    assert "serves object-detection" in with_parameter["message"] and "top_k" in with_parameter["message"]
    by_route = results["image_classification_on_detr_route"]
    assert by_route.get("status") == 400, by_route
    assert "does not serve image-classification; it serves: object-detection" in by_route["message"]


def test_token_classification(results):
    entities = ok(results, "token_classification")
    expected = modeldeck.run("ner", TEXT)
    assert [(e["entity_group"], e["word"], e["start"], e["end"]) for e in entities] == [
        (e["entity_group"], e["word"], e["start"], e["end"]) for e in expected]
    assert [e["score"] for e in entities] == pytest.approx([e["score"] for e in expected], abs=1e-6)
    words = ok(results, "token_classification_first")
    assert all(not e["word"].startswith("##") for e in words) and len(words) >= len(entities) - 2


def test_zero_shot_classification(results):
    labels = ok(results, "zero_shot_classification")
    assert sorted(x["label"] for x in labels) == ["phone", "tablet", "urgent"]
    assert sum(x["score"] for x in labels) == pytest.approx(1.0, abs=1e-4)
    multi = ok(results, "zero_shot_classification_multi")
    assert sorted(x["label"] for x in multi) == ["phone", "urgent"]


def test_image_segmentation_masks_come_back_as_pictures(results):
    regions = ok(results, "image_segmentation")
    assert regions and all(r["mask"] == {"image": [640, 480]} and r["label"] for r in regions)
    semantic = modeldeck.run("image-segmentation", str(DATA / "coco-000000039769-cats.png"),
                             model="nvidia/segformer-b0-finetuned-ade-512-512")
    assert [r["label"] for r in regions] == [r["label"] for r in semantic]
    panoptic = ok(results, "image_segmentation_panoptic")
    expected = modeldeck.run("image-segmentation", str(DATA / "coco-000000039769-cats.png"),
                             model="facebook/detr-resnet-50-panoptic", threshold=0.0)
    assert [r["label"] for r in panoptic] == [r["label"] for r in expected] and len(panoptic) > 1


def test_audio_classification(results):
    labels = ok(results, "audio_classification")
    expected = modeldeck.run("audio-classification", str(DATA / "jfk.flac"))
    assert [x["label"] for x in labels] == [x["label"] for x in expected] and len(labels) == 5
    assert [x["score"] for x in labels] == pytest.approx([x["score"] for x in expected], abs=1e-5)
    assert len(ok(results, "audio_classification_top_k")) == 2
