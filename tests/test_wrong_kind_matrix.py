"""Every task x every model on this machine (the fixture hub and the packaged models): each pair either answers,
or is refused before anything loads with a WrongModelType in modeldeck's words; a TaskFailed (a library's error
let through, e.g. a Stable Diffusion folder read as a BERT tokenizer) fails the test."""

from __future__ import annotations

import pytest

import modeldeck
from modeldeck.errors import ModeldeckError, TaskFailed, WrongModelType
from modeldeck.pipelines import registry
from modeldeck.pool import Pool
from modeldeck.refs import PACKAGED
from tests.fixtures.hub import builders
from tests.test_bad_input import CATS, GOOD_PARAMS, good_inputs

MODELS = sorted({*builders(), *PACKAGED})
LIBRARY_WORDS = ("<class", "transformers.", "Config'>", "AutoModel", "Unrecognized", "Error:", "Pipeline'",
                 "Couldn't", "Can't load", "Modality")

SD, SD_INPAINT, DALLE = "CompVis/stable-diffusion-v1-4", "stable-diffusion-v1-5/stable-diffusion-inpainting", "kuprel/min-dalle"
SEQ2SEQ = {"Helsinki-NLP/opus-mt-en-fr", "facebook/bart-large-cnn", "facebook/blenderbot-400M-distill",
           "facebook/nllb-200-distilled-600M"}
CAUSAL = {"HuggingFaceTB/SmolLM2-360M-Instruct", "facebook/opt-350m", "gpt2"}
# Models sentence-transformers embeds text with: text models of any head, and the text towers of CLIP, BLIP, CLAP.
TEXT_ENCODERS = SEQ2SEQ | CAUSAL | {
    "sentence-transformers/all-MiniLM-L6-v2", "google-bert/bert-base-uncased", "facebook/bart-large-mnli",
    "cross-encoder/ms-marco-MiniLM-L-6-v2", "deepset/roberta-base-squad2", "dslim/bert-base-NER",
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "Salesforce/blip-image-captioning-base",
    "Salesforce/blip-itm-base-coco", "Salesforce/blip-vqa-base", "openai/clip-vit-large-patch14",
    "laion/clap-htsat-unfused",
}
# The pairs that run, beside each task's default model (the checkpoint carries what the task reads).
FITS: dict[str, set[str]] = {
    "feature-extraction": TEXT_ENCODERS,
    "sentence-similarity": TEXT_ENCODERS,
    "text-classification": {"cross-encoder/ms-marco-MiniLM-L-6-v2", "facebook/bart-large-mnli"},
    "fill-mask": {"facebook/bart-large-cnn"},
    "chat": SEQ2SEQ | {"HuggingFaceTB/SmolLM2-360M-Instruct"},
    "translation": SEQ2SEQ,
    "summarization": SEQ2SEQ,
    "text-generation": CAUSAL,
    "automatic-speech-recognition": {"Systran/faster-whisper-tiny.en"},
    "text-to-speech": {"rhasspy/piper-voices/en_US-joe-medium"},
    "image-segmentation": {"facebook/detr-resnet-50-panoptic"},
    "mask-generation": {"facebook/sam-vit-base"},
    "image-to-text": {"nlpconnect/vit-gpt2-image-captioning"},
    "text-to-image": {DALLE},
    "inpainting": {SD_INPAINT},
}
# The fitting pairs run here: the genuinely fine ones no other test runs (tests/tasks runs the defaults and the
# other models each task names), a few of each kind; the walk test above covers the rest of FITS.
RUN = [("feature-extraction", "google-bert/bert-base-uncased"), ("feature-extraction", "gpt2"),
       ("feature-extraction", "openai/clip-vit-large-patch14"),
       ("sentence-similarity", "deepset/roberta-base-squad2"), ("text-classification", "facebook/bart-large-mnli"),
       ("fill-mask", "facebook/bart-large-cnn")]
PAIR_INPUTS = {("fill-mask", "facebook/bart-large-cnn"): "Paris is the <mask> of France."}


def fits(task: str, model: str) -> bool:
    spec = registry()[task].spec
    return model in (spec.default_model, spec.offline_default) or model in FITS.get(task, ())


class Reached(Exception):
    """The walk got to the loader: nothing refused the pair before loading."""


@pytest.fixture
def no_loading(monkeypatch):
    import modeldeck.backends.loading as loading

    def reached(task, path, model_id, *args, **kwargs):
        raise Reached(model_id)

    monkeypatch.setattr(loading, "load", reached)


@pytest.mark.parametrize("task", list(registry()))
def test_each_model_of_another_kind_is_refused_before_loading(task, no_loading):
    pool = Pool(budget=None)
    wrong = []
    for model in MODELS:
        try:
            pool.get(task, model)
        except Reached:
            if not fits(task, model):
                wrong.append(f"{model}: reached the loader, but it does not fit {task}")
        except TaskFailed as error:
            wrong.append(f"{model}: TaskFailed: {error}")
        except WrongModelType as error:
            text = str(error)  # (the message and the hint)
            if fits(task, model):
                wrong.append(f"{model}: refused, but it fits {task}: {error}")
            elif task.replace("-", " ") not in text.replace("-", " ") or any(w in text for w in LIBRARY_WORDS):
                wrong.append(f"{model}: the refusal does not name {task} in modeldeck's words: {text}")
        except ModeldeckError as error:
            wrong.append(f"{model}: {type(error).__name__} instead of WrongModelType: {error}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("task, model", RUN, ids=[f"{t}-{m}" for t, m in RUN])
def test_a_model_that_fits_answers(task, model):
    assert fits(task, model)
    inputs = good_inputs(registry()[task])
    if (task, model) in PAIR_INPUTS:
        inputs[registry()[task].spec.inputs[0].name] = PAIR_INPUTS[(task, model)]
    params = GOOD_PARAMS.get(task, {})
    try:
        result = modeldeck.run(task, inputs, model=model, **params)
    except TaskFailed as error:
        pytest.fail(f"a library error reached the user: {error}")
    assert result is not None


WRONG_KIND = [("fill-mask", "a [MASK]", SD), ("image-classification", CATS, DALLE),
              ("feature-extraction", "Hello", "openai/whisper-base"), ("sentence-similarity", None, "facebook/sam-vit-base")]


@pytest.mark.parametrize("task, text, model", WRONG_KIND, ids=[f"{t}-{m}" for t, _, m in WRONG_KIND])
def test_the_cli_and_the_page_refuse_the_wrong_kind_in_the_same_words(cli, task, text, model, no_loading):
    gr = pytest.importorskip("gradio")
    from modeldeck.ui.app import build_app

    inputs = good_inputs(registry()[task])
    result = cli("run", task, *[v for value in inputs.values() for v in (value if isinstance(value, list) else [value])],
                 "-m", model)
    assert result.code == 1 and f"{model} is made for" in result.err and "Traceback" not in result.err, result.err
    tab = build_app([task]).modeldeck_tabs[task]
    with pytest.raises(gr.Error) as error:
        tab.call(tab.values(inputs, model=model), progress=lambda *a, **k: None)
    assert f"{model} is made for" in error.value.message and task in error.value.message, error.value.message
