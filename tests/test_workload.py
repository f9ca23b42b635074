"""The work of one request (pixels x pictures x steps, tokens x sequences x beams, items) is checked against a
budget before any work, the same from Python and the CLI (HTTP and the UI: tests/server, tests/ui); and
image-to-image / inpainting refuse steps x strength under one denoising step."""

from __future__ import annotations

import json
import time

import pytest

import modeldeck
from modeldeck.errors import InvalidInput

CATS = "tests/fixtures/data/coco-000000039769-cats.png"


@pytest.fixture
def nothing_loads(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("a model was loaded for a request over its work budget")

    monkeypatch.setattr(modeldeck, "load", load)


def test_huge_pictures_times_many_are_refused_at_once_naming_the_setting(nothing_loads):
    started = time.monotonic()
    with pytest.raises(InvalidInput) as error:
        modeldeck.run("text-to-image", "a cat", width=4096, height=4096, num_images=16)
    text = str(error.value)
    assert "width x height x pictures x steps" in text and "13,421.8, over the limit of 256 megapixel-steps" in text
    assert "MODELDECK_MAX_IMAGE_WORK=13422" in text
    assert time.monotonic() - started < 1


def test_the_budget_is_a_setting(monkeypatch):
    from modeldeck.pipelines import get_task
    from modeldeck.workload import check

    call = get_task("text-to-image").spec.bind("a cat", {"width": 4096, "height": 4096, "num_images": 16})
    with pytest.raises(InvalidInput):
        check(get_task("text-to-image"), [call])
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_WORK", "20000")
    check(get_task("text-to-image"), [call])  # raised: allowed


def test_the_cli_refuses_it_before_the_model_runs(cli):
    started = time.monotonic()
    result = cli("run", "text-to-image", "a cat", "--width", "4096", "--height", "4096", "--num-images", "16")
    assert result.code == 1 and "MODELDECK_MAX_IMAGE_WORK" in result.err and "Traceback" not in result.err
    assert time.monotonic() - started < 5


def test_tokens_times_sequences_times_beams_and_items(nothing_loads):
    with pytest.raises(InvalidInput, match=r"new tokens x sequences x beams x items\) is 131,072, over the limit "
                                           r"of 65,536 tokens per request.*MODELDECK_MAX_TOKEN_WORK"):
        modeldeck.run("text-generation", ["Once", "Twice"], max_new_tokens=4096, num_return_sequences=16)
    with pytest.raises(InvalidInput, match=r"is 262,144, over the limit of 65,536 tokens per request"):
        modeldeck.run("chat", [["Hi"], ["Hello"], ["Hey"], ["Yo"]], max_new_tokens=4096, num_beams=16)
    with pytest.raises(InvalidInput, match=r"number of items in the request is 10,001, over the limit of 10,000"):
        modeldeck.run("text-generation", ["Once"] * 10_001, max_new_tokens=1)
    with pytest.raises(InvalidInput, match="tokens per request"):
        modeldeck.run("text-generation", ["Once"] * 5000, max_new_tokens=16)


def test_a_loaded_runner_checks_the_same_budget():
    runner = modeldeck.load("text-generation")
    with pytest.raises(InvalidInput, match="MODELDECK_MAX_TOKEN_WORK"):
        runner(["Once", "Twice"], max_new_tokens=4096, num_return_sequences=16)
    chat = modeldeck.load("chat")
    with pytest.raises(InvalidInput, match="MODELDECK_MAX_TOKEN_WORK"):
        chat([["Hi"], ["Hello"]], max_new_tokens=4096, num_beams=16)


@pytest.mark.parametrize("task, inputs", [
    ("image-to-image", {"image": CATS, "prompt": "a dog"}),
    ("inpainting", {"image": CATS, "mask": CATS, "prompt": "a dog"}),
])
def test_steps_times_strength_under_one_step_is_refused_with_the_smallest_strength(task, inputs, nothing_loads):
    with pytest.raises(InvalidInput) as error:
        modeldeck.run(task, inputs, steps=2, strength=0.01)
    text = str(error.value)
    assert "strength 0.01 at 2 steps runs no denoising step" in text and "Use strength 0.5 or more at 2 steps" in text
    assert "at least 100 steps at strength 0.01" in text
    assert "reshape" not in text and "tensor" not in text


def test_steps_times_strength_on_the_cli_and_the_loaded_runner(cli):
    result = cli("run", "image-to-image", CATS, "a dog", "--steps", "3", "--strength", "0.3")
    assert result.code == 1 and "strength 0.3 at 3 steps runs no denoising step" in result.err
    assert "Use strength 0.334 or more" in result.err
    runner = modeldeck.load("inpainting")  # its own default steps (50) decide when none are given
    with pytest.raises(InvalidInput, match="strength 0.001 at 50 steps"):
        runner({"image": CATS, "mask": CATS, "prompt": "x"}, strength=0.001, width=64, height=64)


def test_the_parameters_written_are_the_steps_that_ran(cli, tmp_path):
    result = modeldeck.run("image-to-image", {"image": CATS, "prompt": "a dog"}, steps=4, strength=0.5, width=64,
                           height=64, seed=1)
    used = result["parameters"]
    assert used["steps"] == 4 and used["strength"] == 0.5 and used["denoising_steps"] == 2
    out = cli("run", "image-to-image", CATS, "a dog", "--steps", "5", "--strength", "0.2", "--width", "64",
              "--height", "64", "--json")
    assert out.code == 0, out.err
    assert json.loads(out.out)["parameters"]["denoising_steps"] == 1
