"""image-classification, image-segmentation and audio-classification on the fixture hub: parity with
transformers' pipelines on the same tiny weights, masks at the picture's size, long clips in windows,
parameters taking effect, clear errors, the CLI."""

import json

import numpy as np
import pytest
from PIL import Image

import modeldeck
from modeldeck.errors import InvalidInput
from modeldeck.hub import resolve
from tests.conftest import DATA

CATS = str(DATA / "coco-000000039769-cats.png")
JFK = str(DATA / "jfk.flac")
W, H = 640, 480
SEMANTIC, PANOPTIC = "nvidia/segformer-b0-finetuned-ade-512-512", "facebook/detr-resnet-50-panoptic"


def path_of(model_id):
    return str(resolve(model_id).path)


@pytest.fixture(scope="module")
def cats():
    return Image.open(CATS).convert("RGB")


# -- image-classification -------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"top_k": 3}, {"top_k": 2, "function_to_apply": "sigmoid"},
                                    {"function_to_apply": "none"}])
def test_image_labels_match_transformers_pipeline(cats, params):
    from transformers import pipeline

    expected = pipeline("image-classification", model=path_of("google/vit-base-patch16-224"))(cats, **params)
    got = modeldeck.run("image-classification", cats, **params)
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_image_labels_default_to_five_and_top_k_past_the_labels_gives_them_all():
    assert len(modeldeck.run("image-classification", CATS)) == 5
    with modeldeck.notices.collected() as notes:
        every = modeldeck.run("image-classification", CATS, top_k=1000)
    assert len(every) == 10 and "only 10 labels" in notes[0]
    assert sum(r["score"] for r in every) == pytest.approx(1.0, abs=1e-5)


def test_image_classification_cli_json_and_no_picture_to_draw(cli, tmp_path):
    done = cli("run", "image-classification", CATS, "--top-k", "2", "--json")
    assert done.code == 0, done.err
    assert len(json.loads(done.out)) == 2
    done = cli("run", "image-classification", CATS, "-o", str(tmp_path / "labels.png"))
    assert done.code == 1 and "cannot write a .png file" in done.err


# -- image-segmentation ---------------------------------------------------------------------------


def test_semantic_masks_match_transformers_pipeline_and_cover_the_picture_once(cats):
    from transformers import pipeline

    expected = pipeline("image-segmentation", model=path_of(SEMANTIC))(cats)
    got = modeldeck.run("image-segmentation", cats)
    assert len(got) > 1 and [r["label"] for r in got] == [r["label"] for r in expected]
    for mine, theirs in zip(got, expected):
        assert np.array_equal(np.asarray(mine["mask"]), np.asarray(theirs["mask"]) > 0)
        assert 0 < mine["score"] <= 1  # the pipeline gives None: here the mean confidence of the mask's pixels
    cover = sum(np.asarray(r["mask"]).astype(int) for r in got)
    assert cover.shape == (H, W) and (cover == 1).all()  # every pixel has exactly one label


def test_semantic_masks_are_the_same_a_few_labels_at_a_time(monkeypatch):
    from modeldeck.pipelines import image_segmentation

    whole = modeldeck.run("image-segmentation", CATS)
    monkeypatch.setattr(image_segmentation, "SCALED_LOGITS", W * H * 3)  # three labels' maps at once
    runner = modeldeck.load("image-segmentation", batch_wait=0)
    in_parts = runner(CATS)
    assert [r["label"] for r in in_parts] == [r["label"] for r in whole]
    assert [r["score"] for r in in_parts] == pytest.approx([r["score"] for r in whole], abs=1e-6)
    assert all(np.array_equal(np.asarray(a["mask"]), np.asarray(b["mask"])) for a, b in zip(in_parts, whole))


def test_panoptic_masks_match_transformers_pipeline(cats):
    from transformers import pipeline

    expected = pipeline("image-segmentation", model=path_of(PANOPTIC))(cats, threshold=0.0)
    got = modeldeck.run("image-segmentation", cats, model=PANOPTIC, threshold=0.0)
    assert len(got) > 1 and [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-5)
    for mine, theirs in zip(got, expected):
        assert np.array_equal(np.asarray(mine["mask"]), np.asarray(theirs["mask"]) > 0)
    strict = modeldeck.run("image-segmentation", cats, model=PANOPTIC, threshold=0.995)
    assert len(strict) < len(got) and all(r["score"] >= 0.995 for r in strict)


@pytest.mark.parametrize("model, subtask, message", [
    (SEMANTIC, "panoptic", "does not do panoptic segmentation; it does semantic"),
    (PANOPTIC, "semantic", "does not do semantic segmentation; it does panoptic, instance"),
])
def test_a_subtask_the_model_does_not_do_is_refused(model, subtask, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("image-segmentation", CATS, model=model, subtask=subtask)


def test_instance_subtask_of_a_panoptic_model():
    found = modeldeck.run("image-segmentation", CATS, model=PANOPTIC, subtask="instance", threshold=0.0)
    assert found and all(np.asarray(r["mask"]).shape == (H, W) for r in found)


def test_segmentation_cli_json_text_and_overlay(cli, tmp_path):
    import base64
    import io

    done = cli("run", "image-segmentation", CATS, "--json")
    assert done.code == 0, done.err
    rows = json.loads(done.out)
    assert rows and set(rows[0]) == {"label", "score", "mask"}
    assert Image.open(io.BytesIO(base64.b64decode(rows[0]["mask"]))).size == (W, H)
    done = cli("run", "image-segmentation", CATS)
    assert done.code == 0 and "regions" in done.out and "covers" in done.out
    out = tmp_path / "regions.png"
    assert cli("run", "image-segmentation", CATS, "-o", str(out)).code == 0
    overlay = np.asarray(Image.open(out).convert("RGB"), dtype=int)
    assert overlay.shape == (H, W, 3) and np.abs(overlay - np.asarray(Image.open(CATS).convert("RGB"))).sum() > 0


# -- audio-classification -------------------------------------------------------------------------


def mono_16k(seconds=None):
    from modeldeck.media.audio import load_audio

    audio, _ = load_audio(JFK, 16000)
    return audio if seconds is None else audio[: int(seconds * 16000)]


@pytest.mark.parametrize("params", [{"top_k": 3}, {"top_k": 4, "function_to_apply": "sigmoid"}])
def test_audio_labels_match_transformers_pipeline(params):
    from transformers import pipeline

    plain = pipeline("audio-classification", model=path_of("MIT/ast-finetuned-audioset-10-10-0.4593"), device="cpu")
    audio = mono_16k()  # 11 s: the pipeline reads the first 10.24 s, and so does modeldeck (the rest is under 1 s)
    expected = plain({"raw": audio, "sampling_rate": 16000}, **params)
    got = modeldeck.run("audio-classification", JFK, **params)
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_any_rate_and_stereo_give_the_same_labels():
    from modeldeck.media.audio import load_audio

    stereo, rate = load_audio(JFK, 44100)
    both = (np.stack([stereo, stereo], axis=1), rate)
    got, expected = modeldeck.run("audio-classification", both), modeldeck.run("audio-classification", JFK)
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-3)  # resampled twice


def test_a_long_clip_is_heard_in_windows_whose_scores_are_averaged():
    runner = modeldeck.load("audio-classification")
    long = (np.concatenate([mono_16k(), mono_16k()[::-1], mono_16k()]), 16000)  # 33 s: four windows
    before = runner.stats()["items"]
    whole = runner(long, top_k=10)
    assert runner.stats()["items"] - before == 4
    assert whole == runner(long, top_k=10)  # deterministic
    first = runner((long[0][: 16000 * 10], 16000), top_k=10)
    assert [r["score"] for r in whole] != pytest.approx([r["score"] for r in first], abs=1e-4)


def test_audio_classification_cli(cli):
    done = cli("run", "audio-classification", JFK, "--top-k", "2", "--json")
    assert done.code == 0, done.err
    assert len(json.loads(done.out)) == 2
    done = cli("run", "audio-classification", str(DATA / "coco-000000039769-cats.png"))
    assert done.code == 1 and "Traceback" not in done.err
