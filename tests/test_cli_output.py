"""What the CLI prints, word by word: plurals, no negative zero, per-dtype memory, only the options that work,
and the task table's aliases and offline column."""

from __future__ import annotations

import json

import pytest

from modeldeck.outputs.common import number, plural


def test_numbers_never_show_a_negative_zero():
    assert number(-0.00001, 3) == "0.000" and number(-0.00001, 4, sign=True) == "+0.0000"
    assert number(-0.5, 3) == "-0.500" and number(0.25) == "0.2500" and number(-12.0, 1) == "-12.0"


def test_singular_and_plural():
    assert plural(1, "mask") == "1 mask" and plural(2, "mask") == "2 masks" and plural(0, "mask") == "0 masks"


def test_one_mask_is_one_mask_and_a_tiny_negative_score_is_zero():
    from PIL import Image

    from modeldeck.pipelines import get_task

    mask = Image.new("1", (4, 4))
    text = get_task("mask-generation").render([{"mask": mask, "score": -0.00004}], {})
    assert text.startswith("1 mask, 4x4") and "score 0.000" in text and "-0.000" not in text
    boxes = [{"label": "cat", "score": -1e-6, "box": {"xmin": 0, "ymin": 0, "xmax": 1, "ymax": 1}}]
    assert "-0.000" not in get_task("object-detection").render(boxes, {})
    assert "-0.0000" not in get_task("sentence-similarity").render([-1e-7, 0.5], {"sentences": ["a", "b"]})


def test_estimate_int8_is_its_own_figure_and_refused_where_it_never_loads(cli):
    rows = json.loads(cli("estimate", "sentence-transformers/all-MiniLM-L6-v2", "--json").out)["by_dtype"]
    assert rows["int8"] < rows["fp32"]  # the weight matrices in one byte each
    small = json.loads(cli("estimate", "gpt2", "--json").out)["by_dtype"]
    assert small["int8"] < small["fp32"]  # tiny matrices too (the fixture's are 32 wide)
    result = cli("estimate", "CompVis/stable-diffusion-v1-4", "--dtype", "int8")
    assert result.code == 1 and "not loaded in int8" in result.err


def test_quantize_is_offered_where_int8_runs(cli):
    assert "int8 weights on onnx" in cli("run", "feature-extraction", "--help").out
    assert "int8 weights on ctranslate2" in cli("run", "text-generation", "--help").out
    assert "--quantize" not in cli("run", "object-detection", "--help").out  # no fast path: torch only


def test_quantize_int8_runs_on_onnx_from_the_cli(cli):
    result = cli("run", "text-classification", "a great film", "--runtime", "onnx", "--quantize", "int8")
    assert result.code == 0, result.err
    assert "onnx (int8)" in result.err and ("POSITIVE" in result.out or "NEGATIVE" in result.out)


def test_tasks_table_shows_aliases_and_whether_each_task_runs_offline(cli, empty_cache):
    result = cli("tasks")
    header, *rows = result.out.splitlines()
    assert header.split()[:4] == ["TASK", "ALIASES", "DEFAULT", "MODEL"] and "OFFLINE" in header
    row = {line.split()[0]: line for line in rows if line.strip()}
    assert "sentiment-analysis" in row["text-classification"] and "asr" in row["automatic-speech-recognition"]
    assert " ready " in row["sentence-similarity"]  # the packaged MiniLM
    assert " ready (stand-in) " in row["automatic-speech-recognition"]  # the packaged tiny.en for whisper-base
    assert " pull " in row["summarization"]
    data = {r["task"]: r for r in json.loads(cli("tasks", "--json").out)}
    assert data["feature-extraction"]["ready_offline"] and not data["summarization"]["ready_offline"]
    assert data["summarization"]["offline_fix"] == "modeldeck pull facebook/bart-large-cnn"


@pytest.mark.parametrize("task", ["text-classification"])
def test_the_fixture_hub_makes_every_task_ready(cli, task):
    assert " ready" in next(line for line in cli("tasks").out.splitlines() if line.startswith(task + " "))
