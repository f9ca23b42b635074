"""Bad parameter values on every surface beside Python (tests/test_bad_input.py): the CLI, the HTTP server's
Hugging Face task routes and OpenAI routes, the web UI's API, and model management. The cases come from the
specs through test_bad_input's generator (the OpenAI fields from the server's own request schemas), a compact
few per parameter: one out of range, one of the wrong type. Each must be refused in modeldeck's words naming
the parameter (CLI: exit 1 or 2 with an 'Error:' line; HTTP: a 4xx naming the field; UI: an error naming it),
never a 5xx, a traceback, silence, or a TaskFailed (a library's error let through: over HTTP its error_type or
code is "task_failed")."""

from __future__ import annotations

import base64
import os

import httpx
import pytest

from modeldeck.pipelines import registry
from tests.test_bad_input import CATS, GOOD_PARAMS, JFK, accepted, bad_values, good_inputs, named

WRONG_TYPES = ("abc", "maybe", "nonsense", 12345, [1, 2], 5)
LIBRARY_WORDS = ("Traceback", "Could not preprocess", "validation error", "<class", "Error:", "pydantic")


def _plain(value) -> bool:
    """A value every surface can carry (JSON and a command line: no NaN, no half characters, nothing huge)."""
    if isinstance(value, float):
        return value == value and abs(value) != float("inf") and value != 1e-300
    if isinstance(value, str):
        return len(value) < 1000 and value.isprintable()
    if isinstance(value, list):
        return len(value) < 100 and all(_plain(v) for v in value)
    return True


def compact(task: str, param) -> list:
    """One value out of range and one of the wrong type for ``param``, from test_bad_input's values, none fair."""
    values = [v for v in bad_values(param) if _plain(v) and accepted(task, param.name, v) is None]
    numbers = [v for v in values if type(v) in (int, float)]
    out_of_range = numbers[-1:] if param.type in (int, float) else [v for v in values if v == ""][:1]
    wrong = [v for v in WRONG_TYPES if any(v == x and type(v) is type(x) for x in values)][:1]
    return out_of_range + wrong


def cases(surface: str):
    for name, task in registry().items():
        for param in task.spec.params:
            for value in compact(name, param):
                if surface == "cli" and (param.type is bool or param.many or isinstance(value, (list, dict))):
                    continue  # a flag holds no value; a command line holds text only
                if surface == "ui" and value == "":
                    continue  # a blank field in the page means "the default"
                yield pytest.param(name, param.name, value, id=f"{name}-{param.name}-{value!r:.20}")


@pytest.fixture
def task_failures(monkeypatch):
    """The TaskFailed errors made while the test runs (in this process): each a library's error let through."""
    from modeldeck.errors import TaskFailed

    made = []
    original = TaskFailed.__init__

    def recording(self, *args, **kwargs):
        made.append(args[0] if args else "")
        original(self, *args, **kwargs)

    monkeypatch.setattr(TaskFailed, "__init__", recording)
    return made


# -- the CLI ------------------------------------------------------------------------------------------------------


def cli_inputs(task) -> list[str]:
    values = []
    for item, value in good_inputs(task).items():
        values += value if isinstance(value, list) else [value]
    return [str(v) for v in values]


@pytest.mark.parametrize("task, name, value", list(cases("cli")))
def test_the_cli_refuses_bad_values_by_name(cli, task_failures, task, name, value):
    task_cls = registry()[task]
    param = task_cls.spec.param(name)
    extra = [arg for key, v in GOOD_PARAMS.get(task, {}).items() if key != name
             for arg in (f"--{key.replace('_', '-')}", ",".join(v) if isinstance(v, list) else str(v))]
    result = cli("run", task, *cli_inputs(task_cls), *extra, param.option, str(value))
    assert result.code in (1, 2), f"{name}={value!r} was accepted: {result.out[:200]}"
    assert "Error:" in result.err and "Traceback" not in result.err, result.err[-500:]
    assert named(result.err, name) or param.option in result.err, f"the error does not name {name}: {result.err}"
    assert not task_failures, task_failures


LONG_ID = "a" * 300


@pytest.mark.parametrize("args", [
    ("pull", "../../etc"), ("pull", "a b"), ("pull", ""), ("pull", LONG_ID), ("rm", "a b", "-y"), ("rm", "", "-y"),
    ("rm", "org/", "-y"), ("rm", "gpt2@no-such-revision", "-y"), ("rm", LONG_ID, "-y"), ("estimate", "x--y"),
    ("estimate", ""), ("estimate", LONG_ID), ("estimate", "gpt2@no-such-revision"), ("estimate", "gpt2", "--device", "tpu9"),
    ("doctor", "gpt2"), ("stop", "a b", "--url", "http://127.0.0.1:9"),
], ids=lambda args: " ".join(args)[:40])
def test_model_management_refuses_bad_ids_in_its_own_words(cli, task_failures, args):
    result = cli(*args)
    assert result.code in (1, 2), result.out[:300]
    assert "Error:" in result.err and "Traceback" not in result.err and len(result.err) < 800, result.err
    assert "File name too long" not in result.err and "HFValidationError" not in result.err, result.err
    assert not task_failures, task_failures


# -- the HTTP server: one for the module --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http(fixture_hub):
    from tests.serving import launch

    url, process, output = launch(["--port", "0"], dict(os.environ), 90)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client
    finally:
        process.terminate()
        process.wait(timeout=20)


def http_inputs(task) -> dict:
    """The task's good inputs with files as base64, as JSON carries them."""
    def encoded(value):
        if isinstance(value, list):
            return [encoded(v) for v in value]
        if value in (CATS, JFK):
            with open(value, "rb") as f:
                return base64.b64encode(f.read()).decode()
        return value

    return {name: encoded(value) for name, value in good_inputs(task).items()}


def refused_over_http(answer: httpx.Response, field: str, openai: bool) -> str | None:
    """Why ``answer`` is not a refusal of ``field`` in modeldeck's words, or None when it is."""
    if answer.status_code < 400:
        return f"accepted ({answer.status_code})"
    if answer.status_code >= 500:
        return f"a server error {answer.status_code}: {answer.text[:300]}"
    body = answer.json()
    error = body["error"] if openai else body
    text, kind = (error["message"], error.get("code")) if openai else (error["error"], error.get("error_type"))
    if kind == "task_failed":
        return f"a library's error let through: {text[:300]}"
    if error.get("param") != field:  # as data, for the client to point at the field
        return f"the refusal is about {error.get('param')!r}, not {field}: {text[:300]}"
    return None


@pytest.mark.parametrize("task, name, value", list(cases("http")))
def test_the_hf_routes_refuse_bad_values_by_name(http, task, name, value):
    spec = registry()[task].spec
    parameters = {**GOOD_PARAMS.get(task, {}), name: value}
    answer = http.post(f"/models/{spec.default_model}/pipeline/{task}",
                       json={"inputs": http_inputs(registry()[task]), "parameters": parameters})
    why = refused_over_http(answer, name, openai=False)
    assert why is None, f"{task} {name}={value!r}: {why}"


# The OpenAI routes with a good request each; their fields come from the server's own request schemas.
OPENAI = {
    "/v1/chat/completions": ("ChatRequest", {"model": "facebook/blenderbot-400M-distill",
                                             "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}),
    "/v1/completions": ("CompletionRequest", {"model": "gpt2", "prompt": "Hello", "max_tokens": 2}),
    "/v1/embeddings": ("EmbeddingRequest", {"model": "sentence-transformers/all-MiniLM-L6-v2", "input": "Hi"}),
    "/v1/audio/speech": ("SpeechRequest", {"model": "kakao-enterprise/vits-ljs", "input": "Hi", "voice": "alloy"}),
    "/v1/images/generations": ("ImageRequest", {"model": "CompVis/stable-diffusion-v1-4", "prompt": "a cat",
                                                "size": "64x64", "steps": 1}),
    "/v1/rerank": ("RerankRequest", {"model": "cross-encoder/ms-marco-MiniLM-L-6-v2", "query": "Who?",
                                     "documents": ["Bob", "Alice"]}),
    "/rerank": ("TeiRerankRequest", {"query": "Who?", "texts": ["Bob", "Alice"]}),
    "/v1/audio/transcriptions": ("Body_endpoint_v1_audio_transcriptions_post", {"model": "openai/whisper-base"}),
    "/v1/images/edits": ("Body_image_edits_v1_images_edits_post", {"model": "CompVis/stable-diffusion-v1-4",
                                                                    "prompt": "a cat", "size": "64x64", "steps": "2"}),
}
FILES = {"/v1/audio/transcriptions": "file", "/v1/images/edits": "image"}
INPUT_FIELDS = {"model", "messages", "prompt", "input", "query", "documents", "texts", "file", "image", "mask", "voice",
                "stream", "stream_options", "stop", "user", "size", "instructions", "timestamp_granularities[]"}


def field_values(schema: dict, form: bool) -> list:
    """An out-of-range and a wrong-type value for one field of a request schema."""
    options = schema.get("anyOf", [schema])
    kinds = {o.get("type") for o in options}
    main = next((o for o in options if o.get("type") not in (None, "null")), schema)
    if kinds & {"integer", "number"}:
        values = []
        if "maximum" in main:
            values.append(int(main["maximum"]) + 1)
        elif "minimum" in main or "exclusiveMinimum" in main:
            values.append(int(main.get("minimum", main.get("exclusiveMinimum", 0))) - 1)
        return [*values, "abc"]
    if "boolean" in kinds:
        return ["maybe"]
    if "enum" in main:
        return ["nonsense"]
    return [] if form else [[1, 2]]


def openai_cases():
    from modeldeck.server import create_app

    schemas = create_app().openapi()["components"]["schemas"]
    for route, (name, good) in OPENAI.items():
        for field, schema in schemas[name]["properties"].items():
            if field in INPUT_FIELDS:
                continue
            for value in field_values(schema, route in FILES):
                yield pytest.param(route, field, value, id=f"{route}-{field}-{value!r:.12}")


@pytest.mark.parametrize("route, field, value", list(openai_cases()))
def test_the_openai_routes_refuse_bad_values_by_name(http, route, field, value):
    body = {**OPENAI[route][1], field: value}
    if route in FILES:
        with open(JFK if "audio" in route else CATS, "rb") as f:
            files = {FILES[route]: (os.path.basename(f.name), f.read())}
        answer = http.post(route, files=files, data={k: str(v) for k, v in body.items()})
    else:
        answer = http.post(route, json=body)
    why = refused_over_http(answer, field, openai=not route.startswith("/rerank"))
    assert why is None, f"{route} {field}={value!r}: {why}"


@pytest.mark.parametrize("body", [{"model": "a b"}, {"model": "../../etc"}, {"model": "a" * 300}, {"model": 5}, {}])
def test_stopping_a_bad_id_over_http_is_a_4xx_in_modeldecks_words(http, body):
    answer = http.post("/api/stop", json=body)
    assert 400 <= answer.status_code < 500 and "Traceback" not in answer.text and len(answer.text) < 800, answer.text


def test_a_300_character_id_over_http_is_shortened_as_python_shortens_it(http):
    answer = http.post(f"/models/{LONG_ID}/pipeline/fill-mask", json={"inputs": "a [MASK]"})
    assert answer.status_code == 400, answer.text
    text = answer.json()["error"]
    assert "is not a valid model id: a name of 300 characters (the hub allows 96)" in text, text
    assert LONG_ID not in text and "(300 characters)" in text, text


# -- the web UI's API: one UI for the module, in this process (its TaskFailed errors are seen) ---------------------


@pytest.fixture(scope="module")
def ui_client(fixture_hub):
    gradio_client = pytest.importorskip("gradio_client")
    from modeldeck.ui.app import build_app, launch

    app = build_app()
    url = launch(app)
    try:
        client = gradio_client.Client(url, verbose=False)
        yield client, client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    finally:
        app.close()


def ui_args(task, parameters: list[dict]) -> list:
    """The endpoint's arguments: the task's good inputs and parameters, the rest at their defaults."""
    from gradio_client import handle_file

    from modeldeck.ui.inputs import label_for

    good = {}
    for item in task.spec.inputs:
        value = good_inputs(task).get(item.name)
        if item.kind in ("image", "audio"):
            value = [handle_file(v) for v in value] if item.many else handle_file(value)
        elif item.many and value is not None:
            value = "\n".join(value)
        good[label_for(item.name)] = value
    good.update({label_for(k): v for k, v in GOOD_PARAMS.get(task.spec.name, {}).items()})
    args = [good.get(p["label"].split(":")[0].split(" (")[0], p.get("parameter_default")) for p in parameters]
    if task.spec.name == "chat":
        args[0] = "Hello there!"  # the message box (no label)
    return args


@pytest.mark.parametrize("task, name, value", list(cases("ui")))
def test_the_ui_api_refuses_bad_values_by_name(ui_client, task_failures, task, name, value):
    from modeldeck.ui.inputs import label_for

    client, api = ui_client
    endpoint = "/" + task.replace("-", "_")
    parameters = api[endpoint]["parameters"]
    labels = [p["label"] for p in parameters]
    if label_for(name) not in labels:
        pytest.skip(f"{name} is not in the page's form")  # (none today: every parameter has its widget)
    args = ui_args(registry()[task], parameters)
    args[labels.index(label_for(name))] = value
    with pytest.raises(Exception) as error:  # gradio_client's AppError carries the page's message
        client.predict(*args, api_name=endpoint)
    text = str(error.value)
    assert named(text, name) and not any(word in text for word in LIBRARY_WORDS[:4]), text[:500]
    assert not task_failures, task_failures
