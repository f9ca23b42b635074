"""A checkpoint without the task's head is refused, in modeldeck's words, before it runs with a random one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import modeldeck
from modeldeck.errors import WrongModelType
from modeldeck.hub import resolve
from modeldeck.pipelines import registry
from modeldeck.hub import model_config
from modeldeck.pool import Pool

CATS = "tests/fixtures/data/coco-000000039769-cats.png"
LIBRARY_WORDS = ("<class", "transformers.", "Config'>", "AutoModel", "Unrecognized")

# (task, model, the task it fits, an input): the wrong-type cases of the probe
WRONG = [
    ("text-classification", "gpt2", "text-generation", "great film"),
    ("text-generation", "google-bert/bert-base-uncased", "fill-mask", "Hello"),
    ("text-generation", "facebook/bart-large-cnn", "summarization", "Hello"),
    ("image-to-text", "Salesforce/blip-vqa-base", "visual-question-answering", CATS),
    ("text-generation", "openai/whisper-base", "automatic-speech-recognition", "Hello"),
    ("question-answering", "gpt2", "text-generation", {"question": "Who?", "context": "Me."}),
    ("fill-mask", "gpt2", "text-generation", "Paris is the [MASK]."),
    ("summarization", "gpt2", "text-generation", "A long text."),
    ("text-classification", "google-bert/bert-base-uncased", "fill-mask", "great film"),
    ("zero-shot-image-classification", "Salesforce/blip-itm-base-coco", "image-text-matching", CATS),
    ("visual-question-answering", "Salesforce/blip-image-captioning-base", "image-to-text",
     {"image": CATS, "question": "What?"}),
    ("image-text-matching", "Salesforce/blip-vqa-base", "visual-question-answering", {"image": CATS, "text": "cats"}),
]


@pytest.fixture
def nothing_loads(monkeypatch):
    import modeldeck.backends.transformers as backend

    def load_model(*args, **kwargs):
        raise AssertionError("a model was loaded: the wrong type must be refused before loading")

    monkeypatch.setattr(backend, "load_model", load_model)
    for module in ("text_classification", "text_generation", "image_to_text", "fill_mask", "summarization",
                   "question_answering", "zero_shot_image_classification", "visual_question_answering",
                   "image_text_matching"):
        monkeypatch.setattr(f"modeldeck.pipelines.{module}.load_model", load_model, raising=False)


@pytest.mark.parametrize("task, model, fits, inputs", WRONG, ids=[f"{t}-{m}" for t, m, _, _ in WRONG])
def test_a_checkpoint_without_the_tasks_head_is_refused_before_loading(task, model, fits, inputs, nothing_loads):
    extra = {"candidate_labels": ["cat", "dog"]} if task == "zero-shot-image-classification" else {}
    with pytest.raises(WrongModelType) as error:
        modeldeck.run(task, inputs, model, **extra)
    text = str(error.value)
    assert f"{model} is made for {fits}" in text and f"modeldeck run {fits} ... -m {model}" in text, text
    assert not any(word in text for word in LIBRARY_WORDS), text


def test_the_cli_refuses_gpt2_for_text_classification_instead_of_printing_random_labels(cli):
    result = cli("run", "text-classification", "great film", "-m", "gpt2")
    assert result.code == 1 and "LABEL_0" not in result.out
    assert "gpt2 is made for text-generation" in result.err and "classification head" in result.err, result.err


def test_every_default_model_passes_its_tasks_head_check():
    from modeldeck.heads import check

    for name, task in registry().items():
        spec = task.spec
        check(spec, spec.default_model, model_config(spec.default_model))


def _copy_without_architectures(tmp_path: Path, model: str) -> Path:
    folder = tmp_path / model.replace("/", "--")
    shutil.copytree(resolve(model).path, folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("architectures", None)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_weights_transformers_would_initialise_randomly_are_a_wrong_model_type(tmp_path):
    # no architectures to judge by before loading: the loader's own report of missing weights decides
    folder = _copy_without_architectures(tmp_path, "gpt2")
    with pytest.raises(WrongModelType) as error:
        Pool(budget=None).get("text-classification", str(folder))
    text = str(error.value)
    assert "text-classification needs a classification head" in text and "score.weight" in text, text
    assert "randomly initialised" in text and not any(word in text for word in LIBRARY_WORDS), text


def test_an_architecture_transformers_has_no_class_for_is_refused_without_library_class_names(tmp_path):
    folder = _copy_without_architectures(tmp_path, "gpt2")
    with pytest.raises(WrongModelType) as error:
        Pool(budget=None).get("fill-mask", str(folder))
    text = str(error.value)
    assert "transformers has no fill-mask version of its architecture ('gpt2')" in text, text
    assert not any(word in text for word in LIBRARY_WORDS), text


def test_a_diffusers_pipeline_is_judged_by_its_unet_as_the_loader_judges_it(tmp_path):
    """A pipeline's class name in model_index.json can say inpainting over a UNet that takes no mask (and the
    reverse): the folder check goes by the UNet's input channels, as the loader does."""
    from modeldeck.heads import check_folder

    text_to_image, inpainting = registry()["text-to-image"].spec, registry()["inpainting"].spec
    for source, other_class in ((resolve("CompVis/stable-diffusion-v1-4").path, "StableDiffusionInpaintPipeline"),
                                (resolve("stable-diffusion-v1-5/stable-diffusion-inpainting").path,
                                 "StableDiffusionPipeline")):
        folder = tmp_path / Path(source).parent.parent.name
        shutil.copytree(source, folder)
        index = json.loads((folder / "model_index.json").read_text())
        (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": other_class}))
        check_folder(inpainting, str(folder), folder)  # either UNet inpaints (a plain one through the legacy way)
        if json.loads((folder / "unet" / "config.json").read_text())["in_channels"] == 9:
            with pytest.raises(WrongModelType):
                check_folder(text_to_image, str(folder), folder)
        else:
            check_folder(text_to_image, str(folder), folder)
