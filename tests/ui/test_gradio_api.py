"""The page's API through gradio_client: parameters named and defaulted from the specs (view_api() reads like
'modeldeck run TASK --help'), model pickers listing the models made for each task, pictures back as files the
client downloads, and the chat window's endpoint streaming an instruct model's reply."""

from __future__ import annotations

from pathlib import Path

import pytest

import modeldeck
from modeldeck.pipelines import registry

pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

from modeldeck.ui import components as ui  # noqa: E402

SMOL = "HuggingFaceTB/SmolLM2-360M-Instruct"
TASKS = sorted(registry())  # every task's endpoint: a new task's tab is named from its spec too


@pytest.fixture(scope="module")
def client():
    from modeldeck.ui.app import build_app, launch

    app = build_app(TASKS)
    url = launch(app)
    try:
        yield Client(url, verbose=False)
    finally:
        app.close()


@pytest.fixture(scope="module")
def api(client):
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def test_every_endpoint_is_named_and_defaulted_by_its_spec(api):
    for task in TASKS:
        spec = registry()[task].spec
        endpoint = api["/" + task.replace("-", "_")]
        params = endpoint["parameters"]
        names = [p["parameter_name"] for p in params]
        if task == "chat":
            assert names == ["message", "history", "model", *[p.name for p in spec.params]]
        else:
            assert names == [i.name for i in spec.inputs] + ["model"] + [p.name for p in spec.params], task
        by_name = {p["parameter_name"]: p for p in params}
        assert by_name["model"]["parameter_default"] == spec.default_model
        for param in spec.params:
            shown = by_name[param.name]
            assert shown["parameter_has_default"], (task, param.name)  # never required
            if param.default is None:
                assert shown["parameter_default"] in (None, ui.UNSET), (task, param.name, shown["parameter_default"])
            elif not param.many:
                assert shown["parameter_default"] == param.default, (task, param.name)
    text = str(api)
    assert "param_" not in text and "parameter_" not in text.replace("parameter_name", "").replace(
        "parameter_has_default", "").replace("parameter_default", "")


def test_speech_recognitions_format_has_a_default(api):
    fmt = next(p for p in api["/automatic_speech_recognition"]["parameters"] if p["parameter_name"] == "format")
    assert fmt["parameter_has_default"] and fmt["parameter_default"] == "default"
    assert fmt["type"]["enum"] == ["default", "txt", "srt", "vtt"]


def test_model_pickers_list_only_the_models_made_for_the_task(api):
    def offered(endpoint):
        model = next(p for p in api[endpoint]["parameters"] if p["parameter_name"] == "model")
        return set(model["type"]["enum"])

    assert {"gpt2", "facebook/opt-350m", SMOL} <= offered("/text_generation")
    assert not {"CompVis/stable-diffusion-v1-4", "google-bert/bert-base-uncased"} & offered("/text_generation")
    assert offered("/chat") == {"facebook/blenderbot-400M-distill", SMOL}
    assert "gpt2" not in offered("/object_detection")


def test_pictures_come_back_as_files_the_client_downloads(client):
    cats = handle_file(str(ui.EXAMPLE_MEDIA["image"]))
    annotated, details = client.predict(cats, threshold=0.0, api_name="/object_detection")
    assert Path(annotated["image"]).is_file() and Path(annotated["image"]).stat().st_size > 1000
    assert details["headers"][:2] == ["label", "score"]
    masks, _ = client.predict(cats, points="100,100", api_name="/mask_generation")
    assert masks["annotations"] and all(Path(a["image"]).is_file() for a in masks["annotations"])
    gallery = client.predict("a red square", steps=2, width=64, height=64, seed=1, num_images=2,
                             api_name="/text_to_image")
    assert len(gallery) == 2 and all(Path(item["image"]).is_file() for item in gallery)
    from PIL import Image

    assert Image.open(gallery[0]["image"]).size == (64, 64)


def test_keyword_arguments_by_spec_name_work(client):
    scores = client.predict(source_sentence="a cat", sentences="a kitten\nstocks fell", api_name="/sentence_similarity")
    assert scores["headers"] == ["candidate", "score"] and len(scores["data"]) == 2
    text = client.predict(text="Once upon a time", max_new_tokens=4, api_name="/text_generation")
    assert text == modeldeck.run("text-generation", "Once upon a time", max_new_tokens=4)[0]["generated_text"]


def test_the_chat_endpoint_streams_an_instruct_models_reply(client):
    from modeldeck.ui.chat import conversation

    job = client.submit(message="Hi! I like cats.", model=SMOL, max_new_tokens=10, api_name="/chat")
    history, box, notes = job.result()
    expected = modeldeck.run("chat", "Hi! I like cats.", model=SMOL, max_new_tokens=10)["content"]
    assert conversation(history) == [{"role": "user", "content": "Hi! I like cats."},
                                     {"role": "assistant", "content": expected}]
    assert box == ""
    replies = {conversation(state[0])[-1]["content"] for state in job.outputs() if conversation(state[0])}
    assert len(replies) >= 4  # the window grew piece by piece
    history, _, _ = client.predict(message="What do they eat?", history=history, model=SMOL, max_new_tokens=10,
                                   api_name="/chat")
    turns = conversation(history)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[-1]["content"] == modeldeck.run("chat", turns[:3], model=SMOL, max_new_tokens=10)["content"]
