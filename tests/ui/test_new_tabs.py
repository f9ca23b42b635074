"""The tabs of the classification, tagging, ranking and segmentation tasks, driven through gradio_client as a
program would drive the page's API (parameters matched by their names or labels, so either naming works)."""

from __future__ import annotations

import pytest

from tests.conftest import DATA

pytest.importorskip("gradio")

TASKS = ["image-classification", "token-classification", "zero-shot-classification", "text-ranking",
         "image-segmentation", "audio-classification"]
CATS = str(DATA / "coco-000000039769-cats.png")
JFK = str(DATA / "jfk.flac")


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    from modeldeck.ui.app import build_app, launch

    app = build_app(TASKS)
    url = launch(app)
    yield Client(url, verbose=False)
    app.close()


def call(client, task: str, **given):
    """Call the task's endpoint with ``given`` by spec name (files as paths); the rest at their defaults."""
    from gradio_client import handle_file

    api_name = "/" + task.replace("-", "_")
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]["parameters"]
    args = []
    for p in params:
        keys = {p.get("parameter_name"), p["label"].split(":")[0].strip().lower().replace(" ", "_")}
        value = next((given[k] for k in keys if k in given), p.get("parameter_default"))
        if p["component"] in ("Image", "Audio") and isinstance(value, str):
            value = handle_file(value)
        args.append(value)
    return client.predict(*args, api_name=api_name)


def confidences(label_value) -> dict:
    return {c["label"]: c["confidence"] for c in label_value["confidences"]}


def test_image_and_audio_classification_tabs(client):
    import modeldeck

    shown = confidences(call(client, "image-classification", image=CATS, top_k=3))
    expected = modeldeck.run("image-classification", CATS, top_k=3)
    assert shown == pytest.approx({r["label"]: r["score"] for r in expected}, abs=1e-4)
    heard = confidences(call(client, "audio-classification", audio=JFK, top_k=2))
    expected = modeldeck.run("audio-classification", JFK, top_k=2)
    assert heard == pytest.approx({r["label"]: r["score"] for r in expected}, abs=1e-4)


def test_token_classification_tab_marks_the_entities_in_the_text(client):
    import modeldeck

    text = "My name is Wolfgang and I live in Berlin."
    marked, details = call(client, "token-classification", text=text, aggregation_strategy="first")
    expected = modeldeck.run("ner", text, aggregation_strategy="first")
    spans = [(item["token"], item["class_or_confidence"]) for item in marked if item["class_or_confidence"]]
    assert spans == [(text[e["start"]:e["end"]], e["entity_group"]) for e in expected]
    assert [row[1] for row in details["data"]] == [e["word"] for e in expected]


def test_zero_shot_classification_tab(client):
    shown = confidences(call(client, "zero-shot-classification", text="My phone is broken, help!",
                             candidate_labels="urgent, phone, tablet"))
    assert set(shown) == {"urgent", "phone", "tablet"} and sum(shown.values()) == pytest.approx(1.0, abs=1e-3)


def test_text_ranking_tab_ranks_the_documents(client):
    import modeldeck

    documents = ["Berlin has 3.5 million people.", "New York is big.", "Berlin is in Germany."]
    table = call(client, "text-ranking", query="How many people live in Berlin?", documents="\n".join(documents))
    expected = modeldeck.run("rerank", {"query": "How many people live in Berlin?", "documents": documents})
    rows = [dict(zip(table["headers"], row)) for row in table["data"]]
    assert [r["text"] for r in rows] == [r["text"] for r in expected]
    assert [r["score"] for r in rows] == pytest.approx([r["score"] for r in expected], abs=1e-4)


def test_image_segmentation_tab_shows_labelled_masks(client):
    import modeldeck

    annotated, details = call(client, "image-segmentation", image=CATS)
    expected = modeldeck.run("image-segmentation", CATS)
    assert len(annotated["annotations"]) == len(expected)
    assert [row[0] for row in details["data"]] == [r["label"] for r in expected]
    assert all(r["label"] in a["label"] for r, a in zip(expected, annotated["annotations"]))
