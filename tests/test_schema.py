"""JSON Schemas from the specs: valid, matching the examples, and describing real results."""

import json
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

import modeldeck
from modeldeck.jsonable import to_jsonable
from modeldeck.pipelines import specs
from modeldeck.schema import input_schema, output_schema, params_schema, task_schemas
from modeldeck.spec import Input, Param, TaskSpec
from tests.conftest import DATA

SPECS = {s.name: s for s in specs()}


def valid(schema, value) -> bool:
    return Draft202012Validator(schema).is_valid(value)


def errors(schema, value) -> list[str]:
    return [e.message for e in Draft202012Validator(schema).iter_errors(value)]


@pytest.mark.parametrize("name", SPECS)
def test_every_schema_is_valid_json_schema(name):
    schemas = task_schemas(SPECS[name])
    assert set(schemas) == {"input_schema", "params_schema", "output_schema"}
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", SPECS)
def test_examples_validate(name):
    spec = SPECS[name]
    assert spec.examples, f"{name} has no example"
    names = {i.name for i in spec.inputs}
    for example in spec.examples:
        inputs = {k: v for k, v in example.items() if k in names}
        params = {k: v for k, v in example.items() if k not in names}
        assert not errors(input_schema(spec), inputs), example
        assert not errors(params_schema(spec), params), example


def test_inputs_refuse_what_the_task_refuses():
    qa = input_schema(SPECS["question-answering"])
    assert valid(qa, {"question": "Who?", "context": "Me."})
    assert not valid(qa, {"question": "Who?"})  # context is required
    assert not valid(qa, {"question": "  ", "context": "Me."})  # blank text
    assert not valid(qa, {"question": "Who?", "context": "Me.", "extra": "x"})
    captions = input_schema(SPECS["image-to-text"])
    assert captions["required"] == ["image"]  # the caption start is optional
    embed = input_schema(SPECS["feature-extraction"])
    assert valid(embed, {"texts": ["a", "b"]}) and not valid(embed, {"texts": []})


def test_params_carry_types_defaults_choices_and_bounds():
    spec = TaskSpec(
        name="demo", summary="", default_model="x/y", inputs=(Input("text"),), output="labels", output_help="",
        params=(
            Param("steps", int, 50, "denoising steps", min=1, max=500),
            Param("strength", float, 0.8, "how much to change", min=0, max=1, exclusive_min=True),
            Param("mode", str, None, "a mode", choices=("fast", "good")),
            Param("points", str, None, "point prompts", many=True, item="point"),
            Param("boxes", str, None, "box prompts", many=True, item="box"),
        ),
    )
    schema = params_schema(spec)
    steps = schema["properties"]["steps"]
    assert steps == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50, "description": "denoising steps"}
    assert valid(schema, {"steps": 500, "strength": 1.0, "mode": "fast", "points": [[1, 2]], "boxes": [[0, 0, 4, 4]]})
    assert valid(schema, {"mode": None, "points": ["450,300"], "boxes": "0,0,4,4"})
    for bad in ({"steps": 0}, {"steps": 2.5}, {"strength": 0}, {"mode": "slow"}, {"points": [[1, 2, 3]]},
                {"boxes": [[0, 0, 4]]}, {"stepz": 3}):
        assert not valid(schema, bad), bad


def test_messages_input_takes_text_or_turns():
    spec = TaskSpec(
        name="demo-chat", summary="", default_model="x/y", inputs=(Input("messages", "messages"),),
        output="message", output_help="",
    )
    schema = input_schema(spec)
    assert valid(schema, {"messages": "Hello"})
    assert valid(schema, {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    assert not valid(schema, {"messages": [{"role": "robot", "content": "Hi"}]})
    assert not valid(schema, {"messages": []})
    assert valid(output_schema(spec), {"role": "assistant", "content": "Hello!"})


def test_a_spec_can_declare_its_own_output_shape():
    spec = TaskSpec(
        name="demo", summary="", default_model="x/y", inputs=(Input("text"),), output="text", output_help="",
        output_schema={"type": "object", "properties": {"poem": {"type": "string"}}, "required": ["poem"]},
    )
    assert valid(output_schema(spec), {"poem": "roses"}) and not valid(output_schema(spec), {"generated_text": "x"})
    generic = TaskSpec(name="demo", summary="", default_model="x/y", inputs=(Input("text"),), output="text", output_help="")
    assert valid(output_schema(generic), {"poem": "roses"}) and valid(output_schema(generic), [{"generated_text": "x"}])


CATS = str(DATA / "coco-000000039769-cats.png")
RUNS = [
    ("fill-mask", "Paris is the [MASK] of France.", {"top_k": 3}),
    ("fill-mask", "The [MASK] sat on the [MASK].", {}),
    ("text-classification", "I love this movie!", {}),
    ("feature-extraction", ["one", "two"], {}),
    ("question-answering", {"question": "Where do I live?", "context": "My name is Wolfgang and I live in Berlin."}, {}),
    ("question-answering", {"question": "Where do I live?", "context": "My name is Wolfgang and I live in Berlin."},
     {"top_k": 2}),
    ("object-detection", CATS, {"threshold": 0.0}),
    ("image-classification", CATS, {}),
    ("image-segmentation", CATS, {}),
    ("image-segmentation", CATS, {"model": "facebook/detr-resnet-50-panoptic", "threshold": 0.0}),
    ("audio-classification", str(DATA / "jfk.flac"), {"top_k": 3}),
    ("token-classification", "My name is Wolfgang and I live in Berlin.", {}),
    ("token-classification", "My name is Wolfgang and I live in Berlin.", {"aggregation_strategy": "none"}),
    ("zero-shot-classification", "My phone is broken.", {"candidate_labels": ["urgent", "phone"]}),
    ("text-ranking", {"query": "Where?", "documents": ["Berlin.", "Paris."]}, {}),
]


@pytest.mark.parametrize("task, inputs, params", RUNS, ids=[f"{r[0]}-{i}" for i, r in enumerate(RUNS)])
def test_real_results_match_the_output_schema(task, inputs, params):
    result = to_jsonable(modeldeck.run(task, inputs, **params))
    assert result, "a run that returns nothing checks nothing"
    schema = output_schema(SPECS[task])
    assert not errors(schema, result), json.dumps(result)[:500]
    assert not valid(schema, {"unexpected": result})  # the schema does constrain the shape


def test_tasks_json_carries_the_schemas(cli):
    result = cli("tasks", "--json")
    assert result.code == 0
    rows = {row["task"]: row for row in json.loads(result.out)}
    assert set(rows) == set(SPECS)
    for name, row in rows.items():
        assert {"task", "aliases", "modality", "default_model", "inputs", "output", "summary"} <= set(row)
        assert row["input_schema"] == input_schema(SPECS[name])
        assert row["params_schema"] == params_schema(SPECS[name])
        assert row["output_schema"] == output_schema(SPECS[name])
    assert rows["fill-mask"]["params_schema"]["properties"]["top_k"]["default"] == 5


def test_tasks_json_imports_no_torch():
    code = (
        "import sys; from modeldeck.cli import main; main(['tasks', '--json']); "
        "heavy = [m for m in ('torch', 'transformers', 'numpy', 'PIL', 'gradio') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"output_schema"' in result.stdout
