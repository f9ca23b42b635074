"""Bad uploads, the API surface and the login key: the UI says what is wrong in modeldeck's words."""

from __future__ import annotations

import struct
import zlib

import pytest

from modeldeck.pipelines import registry

from ..conftest import run_module

gr = pytest.importorskip("gradio")
from gradio.data_classes import FileData, ImageData, ListFiles  # noqa: E402

from modeldeck.ui import components as ui  # noqa: E402


@pytest.fixture(scope="module")
def app():
    from modeldeck.ui.app import build_app

    return build_app(["object-detection", "image-text-matching", "automatic-speech-recognition", "mask-generation"])


@pytest.fixture
def no_model_loads(monkeypatch):
    """Bad input must be refused before any model loads."""
    import modeldeck

    def load(*args, **kwargs):
        raise AssertionError("a model was loaded for input that should have been refused")

    monkeypatch.setattr(modeldeck, "load", load)


def huge_png(path, width: int = 20_000, height: int = 20_000) -> None:
    """A PNG whose header says 400 megapixels (the pixels themselves are never there)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def run_upload(app, task: str, inputs: dict):
    """What the page shows for these (already preprocessed) widget values: the gr.Error's message."""
    tab = app.modeldeck_tabs[task]
    with pytest.raises(gr.Error) as error:
        tab.call(tab.values(inputs), progress=lambda *a, **k: None)
    return error.value.message


def test_bad_image_uploads_get_modeldecks_message_before_a_model_loads(app, tmp_path, no_model_loads, capfd):
    (tmp_path / "notes.png").write_text("These are my notes.\n")
    (tmp_path / "empty.png").write_bytes(b"")
    huge_png(tmp_path / "huge.png")
    widget = app.modeldeck_tabs["object-detection"].inputs[0]
    expected = {
        "notes.png": "'notes.png' is text, not an image. Give a PNG",
        "empty.png": "'empty.png' is empty (0 bytes)",
        "huge.png": "'huge.png' is 20000x20000 (400.0 megapixels), over the limit of 40 megapixels",
    }
    for name, message in expected.items():
        # gradio stores an upload under its own folder; the user knows the file by the name they gave it
        value = widget.preprocess(ImageData(path=str(tmp_path / name), orig_name=name))
        assert value == str(tmp_path / name)  # handed over unread: gradio's PIL never sees it
        shown = run_upload(app, "object-detection", {"image": value})
        assert message in shown and str(tmp_path) not in shown, shown
    assert "Traceback" not in capfd.readouterr().err


def test_each_bad_file_of_several_is_named(app, tmp_path, no_model_loads):
    (tmp_path / "cat.jpg").write_bytes(ui.EXAMPLE_MEDIA["image"].read_bytes())
    (tmp_path / "list.png").write_text("milk, eggs\n")
    widget = app.modeldeck_tabs["image-text-matching"].inputs[1]
    files = ListFiles([FileData(path=str(tmp_path / n), orig_name=n) for n in ("cat.jpg", "list.png")])
    paths = widget.preprocess(files)
    assert paths == [str(tmp_path / "cat.jpg"), str(tmp_path / "list.png")]
    shown = run_upload(app, "image-text-matching", {"text": "a cat", "image": paths})
    assert "'list.png'" in shown and "is text, not an image" in shown and str(tmp_path) not in shown, shown


def test_bad_audio_upload_gets_modeldecks_message(app, tmp_path, no_model_loads):
    (tmp_path / "talk.wav").write_text("not a recording\n")
    widget = app.modeldeck_tabs["automatic-speech-recognition"].inputs[0]
    value = widget.preprocess(FileData(path=str(tmp_path / "talk.wav"), orig_name="talk.wav"))
    name = registry()["automatic-speech-recognition"].spec.inputs[0].name
    shown = run_upload(app, "automatic-speech-recognition", {name: value})
    assert shown.startswith("talk.wav is a text file, not audio."), shown


def test_only_the_tasks_are_in_the_api(ui_server):
    import httpx

    info = httpx.get(ui_server + "gradio_api/info", timeout=30).json()
    tasks = {"/" + name.replace("-", "_") for name in registry()}
    assert set(info["named_endpoints"]) == tasks  # no /place, /lambda or /load_example
    assert not info["unnamed_endpoints"]


def test_clicks_that_are_not_pixels_leave_the_points_as_they_were():
    assert ui.add_point("1,2", [3.4, 5.6], many=True) == "1,2, 3,6"
    for junk in ("any string", None, 7, [], ["x", "y"], [float("nan"), 1], [-1, 2], {"x": 1}):
        assert ui.add_point("1,2", junk, many=False) == "1,2"
    assert ui.add_point(12345, "junk", many=False) == ""


def test_a_blank_api_key_is_no_key(monkeypatch):
    from modeldeck.errors import InvalidInput
    from modeldeck.ui.auth import serve_auth

    for blank in ("", "   ", "\t\n"):
        monkeypatch.setenv("MODELDECK_API_KEY", blank)
        with pytest.raises(InvalidInput, match="MODELDECK_API_KEY"):
            serve_auth("0.0.0.0")
        assert serve_auth("127.0.0.1") is None  # loopback needs no login
    monkeypatch.setenv("MODELDECK_API_KEY", "   ")
    result = run_module("ui", "--host", "0.0.0.0", "--port", "9")
    assert result.returncode != 0 and "MODELDECK_API_KEY is only whitespace" in result.stderr, result.stderr[-2000:]
    monkeypatch.setenv("MODELDECK_API_KEY", " s3cret ")
    check = serve_auth("0.0.0.0")
    assert check("anyone", " s3cret ") and not check("anyone", "   ")


# -- the model box and the API's bad values (issue 20) -----------------------------------------------------------

LIBRARY_WORDS = ("Could not preprocess", "validation error", "is not in the list of choices", "Value:", "Expected a",
                 "Traceback", "AttributeError", "TypeError", "pydantic")


def test_the_model_box_takes_hub_ids_and_cached_models_only(app, tmp_path, no_model_loads):
    import shutil

    from modeldeck.hub import resolve

    folder = tmp_path / "my-detr"  # a model-shaped folder outside the cache
    shutil.copytree(resolve("facebook/detr-resnet-50").path, folder)
    tab = app.modeldeck_tabs["object-detection"]
    for model in ("../../etc", "/etc", str(folder), "src/modeldeck", "a" * 300, 5):
        with pytest.raises(gr.Error) as error:
            tab.call(tab.values({"image": str(ui.EXAMPLE_MEDIA["image"])}, model=model), progress=lambda *a, **k: None)
        shown = error.value.message
        assert ("not a hub id" in shown or "must be a model id" in shown) and "passwd" not in shown, shown
        assert "modeldeck ui --allow-local-models" in shown or "must be a model id" in shown


def test_folders_open_only_when_the_operator_allows_them(tmp_path, monkeypatch):
    import modeldeck
    from modeldeck.ui.app import build_app

    asked = []

    def load(task, model=None, **kwargs):
        asked.append(model)
        return lambda inputs, **params: [{"label": "cat", "score": 1.0, "box": {"xmin": 0, "ymin": 0, "xmax": 1, "ymax": 1}}]

    monkeypatch.setattr(modeldeck, "load", load)
    tab = build_app(["object-detection"], allow_folders=True).modeldeck_tabs["object-detection"]
    tab.call(tab.values({"image": str(ui.EXAMPLE_MEDIA["image"])}, model=str(tmp_path)), progress=lambda *a, **k: None)
    tab.call(tab.values({"image": str(ui.EXAMPLE_MEDIA["image"])}, model="facebook/detr-resnet-50"),
             progress=lambda *a, **k: None)
    assert asked == [str(tmp_path), None]  # the folder as given; the default by name stays the default


def test_the_api_answers_bad_values_in_modeldecks_words_and_logs_no_traceback(no_model_loads, capfd):
    from gradio_client import Client, handle_file

    from modeldeck.ui.app import build_app, launch

    app = build_app(["text-generation", "object-detection", "mask-generation", "chat", "image-text-matching"])
    url = launch(app)
    cats = str(ui.EXAMPLE_MEDIA["image"])
    good = {"Text": "Hello", "Image": handle_file(cats), "Message": "Hi", "Model": None}
    bad = {
        "number": ["abc", {"a": 1}, [1, 2], 1e300, -1e300, 10**20, True, "nan"],
        "textbox": [{"a": 1}, True],
        "radio": ["maybe", 5, {"a": 1}],
        "checkbox": ["abc", {"a": 1}, 5],
        "dropdown": ["nonsense", 5, {"a": 1}],
        "image": ["abc", 5, [1, 2], {"a": 1}],
        "file": ["abc", 5],
        "chatbot": ["abc", 5, [1, 2]],
    }
    misses = []
    try:
        client = Client(url, verbose=False)
        api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        for name, endpoint in api.items():
            params = endpoint["parameters"]
            base = [good.get(p["label"].split(":")[0], p.get("parameter_default")) for p in params]
            if name == "/chat":
                base[0] = "Hi"  # the message box (no label)
            if name == "/image_text_matching":
                base = [p["parameter_default"] if p["label"] != "Image" else [handle_file(cats)] for p in params]
                base[[p["label"] for p in params].index("Text")] = "a cat"
            for i, p in enumerate(params):
                kind = p["component"].lower()
                if p["label"] == "Model":
                    values = ["../../etc", 5]
                else:
                    values = bad.get(kind, [])
                for value in values:
                    args = list(base)
                    args[i] = value
                    try:
                        client.predict(*args, api_name=name)
                        misses.append(f"{name} {p['label']}={value!r}: accepted")
                    except Exception as error:  # noqa: BLE001 - the message is what is checked
                        text = str(error)
                        if any(word in text for word in LIBRARY_WORDS) or "a model was loaded" in text:
                            misses.append(f"{name} {p['label']}={value!r}: {text[:200]}")
    finally:
        app.close()
    assert not misses, "\n".join(misses)
    assert "Traceback" not in capfd.readouterr().err


def test_the_work_budget_holds_in_the_page_too(no_model_loads):
    from modeldeck.ui.app import build_app

    tab = build_app(["text-to-image"]).modeldeck_tabs["text-to-image"]
    with pytest.raises(gr.Error) as error:
        tab.call(tab.values({"prompt": "a cat"}, {"width": 4096, "height": 4096, "num_images": 16}),
                 progress=lambda *a, **k: None)
    assert "MODELDECK_MAX_IMAGE_WORK" in error.value.message


def test_the_pages_routes_have_the_servers_body_and_json_caps(ui_server):
    import httpx

    big = b"x" * (60 * 1024 * 1024)  # over the 50 MB cap (MODELDECK_MAX_BODY_MB): Gradio read it whole before
    answer = httpx.post(ui_server + "gradio_api/upload", files={"files": ("cat.png", big)}, timeout=60)
    assert answer.status_code == 413 and "limit of 50 MB" in answer.text, answer.text[:300]
    assert "MODELDECK_MAX_BODY_MB" in answer.text
    answer = httpx.post(ui_server + "api/stop", content=big, headers={"content-type": "application/json"}, timeout=60)
    assert answer.status_code == 413, answer.text[:300]
    for route in ("api/stop", "gradio_api/queue/join", "gradio_api/run/fill_mask"):
        answer = httpx.post(ui_server + route, content=b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                            headers={"content-type": "application/json"}, timeout=60)
        assert answer.status_code == 400 and "nests deeper than 32 levels" in answer.text, (route, answer.text[:300])
    assert "There was an error parsing the body" not in answer.text
    assert httpx.get(ui_server, timeout=30).status_code == 200  # and the page still serves
