"""OpenAI images through the openai package: modeldeck's steps, guidance_scale, seed and negative_prompt through
extra_body (generations and edits), quality as steps relative to the model's own, unknown fields refused on both."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

import modeldeck

openai = pytest.importorskip("openai")

SD = "CompVis/stable-diffusion-v1-4"
SMALL = {"width": 64, "height": 64}


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def picture(data) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.b64_json))).convert("RGB"))


def local(task="text-to-image", inputs="a red square", **params) -> np.ndarray:
    return np.asarray(modeldeck.run(task, inputs, model=SD, **SMALL, **params)["images"][0].convert("RGB"))


def test_generations_take_modeldecks_settings_through_extra_body(client):
    settings = {"steps": 2, "guidance_scale": 3.0, "seed": 11, "negative_prompt": "blurry"}
    made = client.images.generate(model=SD, prompt="a red square", size="64x64", extra_body=settings)
    assert np.array_equal(picture(made.data[0]), local(**settings))  # the same picture Python makes
    other = client.images.generate(model=SD, prompt="a red square", size="64x64", extra_body={**settings, "steps": 3})
    assert not np.array_equal(picture(other.data[0]), picture(made.data[0]))


def test_quality_sets_the_steps_relative_to_the_models_own(client):
    low = client.images.generate(model=SD, prompt="a red square", size="64x64", quality="low", extra_body={"seed": 4})
    assert np.array_equal(picture(low.data[0]), local(steps=20, seed=4))  # 50 steps x 0.4
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=SD, prompt="a red square", size="64x64", quality="ultra")
    assert caught.value.body["param"] == "quality"
    with pytest.raises(openai.BadRequestError) as caught:  # bounds are the task's own
        client.images.generate(model=SD, prompt="a red square", size="64x64", extra_body={"steps": 0})
    assert caught.value.body["param"] == "steps"


def test_edits_take_the_same_settings_and_refuse_unknown_fields(client, tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray((np.random.RandomState(0).rand(64, 64, 3) * 255).astype("uint8")).save(source)
    settings = {"steps": 4, "guidance_scale": 5.0, "seed": 2, "negative_prompt": "dark", "strength": 0.5}
    with source.open("rb") as image:
        edited = client.images.edit(model=SD, image=image, prompt="a painting", extra_body=settings)
    expected = modeldeck.run("image-to-image", {"image": str(source), "prompt": "a painting"}, model=SD, **settings)
    assert np.array_equal(picture(edited.data[0]), np.asarray(expected["images"][0].convert("RGB")))
    for unknown in ({"style": "vivid"}, {"sampler": "euler"}):
        with source.open("rb") as image, pytest.raises(openai.BadRequestError) as caught:
            client.images.edit(model=SD, image=image, prompt="a painting", extra_body=unknown)
        assert caught.value.body["param"] == next(iter(unknown))
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model=SD, prompt="a cat", size="64x64", extra_body={"sampler": "euler"})
    assert caught.value.body["param"] == "sampler"
