"""The task registry and specs: names, aliases, binding inputs and parameters."""

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, UnknownParameter, UnknownTask
from modeldeck.pipelines import canonical_name, get_task, registry


def test_every_task_has_a_complete_spec():
    for name, task in registry().items():
        spec = task.spec
        assert spec.name == name
        assert spec.default_model and spec.summary and spec.inputs and spec.output_help
        assert [i for i in spec.inputs if i.many] in ([], [spec.inputs[-1]]), "only the last input may take many"
        assert len({p.name for p in spec.params}) == len(spec.params)


def test_tasks_lists_specs_in_table_order():
    names = [s.name for s in modeldeck.tasks()]
    assert names[:4] == ["feature-extraction", "sentence-similarity", "text-classification", "fill-mask"]


def test_alias_resolves_to_canonical_task():
    assert canonical_name("sentiment-analysis") == "text-classification"
    assert get_task("sentiment-analysis") is get_task("text-classification")


def test_unknown_task_names_the_closest():
    with pytest.raises(UnknownTask) as e:
        canonical_name("sentence-similarty")
    assert "sentence-similarity" in str(e.value)
    assert isinstance(e.value, LookupError)


def test_bind_fills_defaults_and_names_inputs():
    spec = get_task("sentence-similarity").spec
    inputs, params = spec.bind({"source_sentence": "a", "sentences": ["b"]}, {})
    assert inputs == {"source_sentence": "a", "sentences": ["b"]}
    assert params == {"batch_size": 32}
    inputs, _ = spec.bind(("a", ["b", "c"]), {})
    assert inputs["sentences"] == ["b", "c"]
    inputs, _ = spec.bind(None, {"source_sentence": "a", "sentences": ["b"]})
    assert inputs["source_sentence"] == "a"


def test_bind_rejects_unknown_parameter_with_suggestion():
    spec = get_task("fill-mask").spec
    with pytest.raises(UnknownParameter, match="top_k"):
        spec.bind("a [MASK]", {"topk": 3})


def test_bind_rejects_missing_and_unknown_inputs():
    spec = get_task("sentence-similarity").spec
    with pytest.raises(InvalidInput, match="sentences"):
        spec.bind({"source_sentence": "a"}, {})
    with pytest.raises(InvalidInput, match="source_sentence"):
        spec.bind({"source": "a", "sentences": ["b"]}, {})


def test_run_rejects_bad_parameters_before_loading(monkeypatch):
    from modeldeck import pool

    monkeypatch.setattr(pool.default_pool, "get", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(UnknownParameter):
        modeldeck.run("text-classification", "hi", top=2)


@pytest.mark.parametrize(
    "task, inputs",
    [
        ("object-detection", "not-a-picture.jpg"),
        ("automatic-speech-recognition", b"RIFF0000WAVEjunk"),
        ("feature-extraction", ["fine", "   "]),
    ],
)
def test_bad_media_and_text_fail_before_any_model_loads(task, inputs, tmp_path, monkeypatch, cli):
    from modeldeck import pool

    monkeypatch.setattr(pool.default_pool, "get", lambda *a, **k: pytest.fail("loaded a model"))
    if isinstance(inputs, str):
        bad = tmp_path / inputs
        bad.write_text("this is text, not a picture")
        inputs = str(bad)
    with pytest.raises(InvalidInput):
        modeldeck.run(task, inputs)
    if isinstance(inputs, str):
        result = cli("run", task, inputs)
        assert result.code == 1 and result.err.startswith("Error: ")


def test_parameters_are_typed_in_python_too():
    spec = get_task("object-detection").spec
    _, params = spec.bind("x.png", {"threshold": "0.5"})
    assert params["threshold"] == 0.5
    with pytest.raises(InvalidInput, match="threshold must be a number"):
        spec.bind("x.png", {"threshold": "high"})
    spec = get_task("text-generation").spec
    _, params = spec.bind("hi", {"max_new_tokens": None, "seed": "3"})
    assert params["max_new_tokens"] == 50 and params["seed"] == 3  # None means the default
    with pytest.raises(InvalidInput, match="whole number"):
        spec.bind("hi", {"max_new_tokens": 2.5})
    with pytest.raises(InvalidInput, match="one of chunk, truncate"):
        get_task("summarization").spec.bind("text", {"long_input": "cut"})
    _, params = get_task("zero-shot-image-classification").spec.bind("x.png", {"candidate_labels": "cat, dog"})
    assert params["candidate_labels"] == ["cat", "dog"]
