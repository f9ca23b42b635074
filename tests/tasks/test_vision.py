"""Vision and vision-language tasks on the fixture hub (tiny random models of the real architectures).

Random weights give garbage labels and captions, so these tests check what holds
whatever the weights: shapes and sizes, ranges, probabilities, ordering, that
parameters take effect, and parity with the model cards' own processor + model
code (or transformers' pipeline where it still ships) on the same tiny weights.
"""

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

import modeldeck
from modeldeck.errors import InvalidInput
from modeldeck.hub import resolve
from tests.conftest import DATA

CATS = str(DATA / "coco-000000039769-cats.png")
W, H = 640, 480


@pytest.fixture(scope="module")
def cats():
    return Image.open(CATS).convert("RGB")


@pytest.fixture(scope="module")
def chelsea():
    from skimage import data

    return data.chelsea()  # 451x300 RGB numpy array


def path_of(model_id):
    return str(resolve(model_id).path)


def decode_png(text: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(text)))


# -- object-detection ---------------------------------------------------------------------------


def test_detection_boxes_lie_inside_the_image_in_whole_pixels(chelsea):
    for image, (width, height) in ((CATS, (W, H)), (chelsea, (451, 300))):
        found = modeldeck.run("object-detection", image, threshold=0.0)
        assert found, "threshold 0 keeps every query"
        assert [r["score"] for r in found] == sorted((r["score"] for r in found), reverse=True)
        for r in found:
            box = r["box"]
            assert all(isinstance(v, int) for v in box.values())
            assert 0 <= box["xmin"] <= box["xmax"] <= width and 0 <= box["ymin"] <= box["ymax"] <= height
            assert isinstance(r["label"], str) and 0.0 <= r["score"] <= 1.0


def test_detection_threshold_takes_effect():
    everything = modeldeck.run("object-detection", CATS, threshold=0.0)
    cut = sorted(r["score"] for r in everything)[len(everything) // 2]
    some = modeldeck.run("object-detection", CATS, threshold=cut)
    assert 0 < len(some) < len(everything) and all(r["score"] >= cut for r in some)
    with pytest.raises(InvalidInput, match="threshold must be between 0 and 1"):
        modeldeck.run("object-detection", CATS, threshold=1.5)


def test_detection_matches_transformers_pipeline(cats):
    from transformers import pipeline

    reference = pipeline("object-detection", model=path_of("facebook/detr-resnet-50"))(cats, threshold=0.0)
    got = modeldeck.run("object-detection", cats, threshold=0.0)
    key = lambda r: (-round(r["score"], 6), r["label"])  # noqa: E731
    reference, got = sorted(reference, key=key), sorted(got, key=key)
    assert [r["label"] for r in got] == [r["label"] for r in reference]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in reference], abs=1e-5)
    for mine, theirs in zip(got, reference):  # theirs are not clipped to the picture; ours are
        b = theirs["box"]
        clipped = {k: min(max(b[k], 0), W if k[0] == "x" else H) for k in b}
        assert all(abs(mine["box"][k] - clipped[k]) <= 1 for k in b)


def test_detection_cli_json_and_picture(cli, tmp_path):
    result = cli("run", "object-detection", CATS, "--threshold", "0.2", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert rows and set(rows[0]) == {"label", "score", "box"} and set(rows[0]["box"]) == {"xmin", "ymin", "xmax", "ymax"}
    out = tmp_path / "boxes.png"
    result = cli("run", "object-detection", CATS, "--threshold", "0.2", "-o", str(out))
    assert result.code == 0, result.err
    picture = Image.open(out)
    assert picture.size == (W, H)
    assert np.abs(np.asarray(picture.convert("RGB"), dtype=int) - np.asarray(Image.open(CATS).convert("RGB"))).sum() > 0


# -- mask-generation (SAM) ----------------------------------------------------------------------


def test_point_prompt_gives_three_scored_masks_at_the_image_size():
    masks = modeldeck.run("mask-generation", CATS, points=[[450, 300]])
    assert len(masks) == 3
    assert [m["score"] for m in masks] == sorted((m["score"] for m in masks), reverse=True)
    for m in masks:
        array = np.asarray(m["mask"])
        assert array.shape == (H, W) and array.dtype == bool
    single = modeldeck.run("mask-generation", CATS, points=["450,300"], multimask=False)
    assert len(single) == 1 and np.asarray(single[0]["mask"]).shape == (H, W)


def test_points_and_labels_change_the_masks():
    one = modeldeck.run("mask-generation", CATS, points=[[450, 300]])
    with_background = modeldeck.run("mask-generation", CATS, points=[[450, 300], [100, 100]], point_labels=[1, 0])
    as_foreground = modeldeck.run("mask-generation", CATS, points=[[450, 300], [100, 100]], point_labels=["fg", "fg"])
    scores = lambda r: [m["score"] for m in r]  # noqa: E731
    assert scores(one) != scores(with_background) != scores(as_foreground)


def test_sam_matches_the_model_card_usage(cats):
    from transformers import SamModel, SamProcessor

    for model_id in ("Zigeng/SlimSAM-uniform-77", "facebook/sam-vit-base"):
        path = path_of(model_id)
        processor, model = SamProcessor.from_pretrained(path), SamModel.from_pretrained(path).eval()
        inputs = processor(cats, input_points=[[[450, 300]]], return_tensors="pt")
        with torch.no_grad():
            outputs = model(**inputs)
        masks = processor.image_processor.post_process_masks(
            outputs.pred_masks.cpu(), inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu()
        )[0][0]
        scores = outputs.iou_scores[0, 0]
        got = modeldeck.run("mask-generation", cats, model=model_id, points=[[450, 300]])
        order = scores.argsort(descending=True).tolist()
        assert [m["score"] for m in got] == pytest.approx(scores[order].tolist(), abs=1e-5)
        for mine, index in zip(got, order):
            assert (np.asarray(mine["mask"]) == masks[index].numpy()).mean() > 0.999


def test_box_prompts_one_object_per_box():
    masks = modeldeck.run("mask-generation", CATS, boxes=[[320, 20, 640, 370], [0, 50, 320, 470]], multimask=False)
    assert [m["prompt"] for m in masks] == [0, 1]
    assert all(np.asarray(m["mask"]).shape == (H, W) for m in masks)
    both = modeldeck.run("mask-generation", CATS, points=["450,300"], boxes=["320,20,640,370"])
    assert len(both) == 3


@pytest.mark.parametrize(
    "params, message",
    [
        ({"points": [[700, 100]]}, r"point \(700, 100\) is outside the 640x480 image"),
        ({"points": [[-1, 10]]}, "outside the 640x480 image"),
        ({"points": [[10, 480]]}, "outside the 640x480 image"),
        ({"points": ["1,2,3"]}, "x,y pairs"),
        ({"points": ["a,b"]}, "numbers"),
        ({"points": [[1, 2]], "point_labels": [1, 0]}, "2 point labels for 1 points"),
        ({"points": [[1, 2]], "point_labels": ["maybe"]}, "neither foreground"),
        ({"boxes": [[0, 0, 900, 100]]}, "not inside the 640x480 image"),
        ({"boxes": [[100, 100, 50, 200]]}, "xmin < xmax"),
        ({"points": [[1, 2]], "boxes": [[0, 0, 9, 9], [1, 1, 5, 5]]}, "at most one box"),
    ],
)
def test_bad_prompts_are_errors_not_silent_clamps(params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("mask-generation", CATS, **params)


def test_automatic_masks_cover_the_whole_image(chelsea):
    loose = dict(pred_iou_thresh=0.0, stability_score_thresh=0.0, points_per_side=4, points_per_batch=5)
    masks = modeldeck.run("mask-generation", chelsea, **loose)
    assert masks and all(np.asarray(m["mask"]).shape == (300, 451) for m in masks)
    assert [m["score"] for m in masks] == sorted((m["score"] for m in masks), reverse=True)
    flat = np.stack([np.asarray(m["mask"]).ravel() for m in masks]).astype(float)
    inter = flat @ flat.T
    area = flat.sum(1)
    iou = inter / (area[:, None] + area[None, :] - inter)
    np.fill_diagonal(iou, 0)
    assert iou.max() <= 0.7 + 1e-6  # overlapping duplicates were suppressed
    strict = modeldeck.run("mask-generation", chelsea, **{**loose, "nms_thresh": 0.05})
    assert len(strict) <= len(masks)
    default = modeldeck.run("mask-generation", chelsea, points_per_side=4)  # SAM's thresholds: strict
    assert len(default) <= len(masks) and all(m["score"] >= 0.88 for m in default)
    batched = modeldeck.run("mask-generation", chelsea, **{**loose, "points_per_batch": 64})
    assert [m["score"] for m in batched] == pytest.approx([m["score"] for m in masks], abs=1e-5)


def test_masks_cli_json_and_overlay(cli, tmp_path):
    result = cli("run", "mask-generation", CATS, "--points", "450,300", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert len(rows) == 3 and set(rows[0]) == {"mask", "score"}
    assert decode_png(rows[0]["mask"]).size == (W, H)
    out = tmp_path / "masks.png"
    assert cli("run", "mask-generation", CATS, "--points", "450,300", "-o", str(out)).code == 0
    assert Image.open(out).size == (W, H)
    result = cli("run", "mask-generation", CATS, "--points", "800,300")
    assert result.code != 0 and "outside the 640x480 image" in result.err and "Traceback" not in result.err


# -- depth-estimation ---------------------------------------------------------------------------


def test_depth_map_has_the_input_size(chelsea):
    for image, (width, height) in ((CATS, (W, H)), (chelsea, (451, 300))):
        result = modeldeck.run("depth-estimation", image)
        depth = result["predicted_depth"]
        assert isinstance(depth, np.ndarray) and depth.dtype == np.float32 and depth.shape == (height, width)
        assert result["depth"].mode == "L" and result["depth"].size == (width, height)
        assert result["min"] == pytest.approx(float(depth.min())) and result["max"] == pytest.approx(float(depth.max()))
        assert np.asarray(result["depth"]).min() == 0 and np.asarray(result["depth"]).max() == 255


def test_depth_matches_transformers_pipeline(cats):
    from transformers import pipeline

    reference = pipeline("depth-estimation", model=path_of("Intel/dpt-hybrid-midas"))(cats)
    got = modeldeck.run("depth-estimation", cats)
    np.testing.assert_allclose(got["predicted_depth"], reference["predicted_depth"].numpy(), rtol=1e-4, atol=1e-9)
    assert (np.abs(np.asarray(got["depth"], int) - np.asarray(reference["depth"], int)) <= 1).mean() > 0.999


def test_depth_json_is_picture_plus_range(cli, tmp_path):
    result = cli("run", "depth-estimation", CATS, "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert set(payload) == {"depth", "min", "max"}
    assert decode_png(payload["depth"]).size == (W, H) and payload["min"] <= payload["max"]
    out = tmp_path / "depth.png"
    assert cli("run", "depth-estimation", CATS, "-o", str(out)).code == 0
    assert Image.open(out).size == (W, H) and Image.open(out).mode == "RGB"


# -- zero-shot-image-classification --------------------------------------------------------------


def test_zero_shot_probabilities_sum_to_one_best_first(chelsea):
    labels = ["cat", "dog", "a red car", "two remotes"]
    result = modeldeck.run("zero-shot-image-classification", chelsea, candidate_labels=labels)
    assert sorted(r["label"] for r in result) == sorted(labels)
    assert sum(r["score"] for r in result) == pytest.approx(1.0, abs=1e-5)
    assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)
    other = modeldeck.run("zero-shot-image-classification", chelsea, candidate_labels=labels, hypothesis_template="{}")
    assert [r["score"] for r in other] != pytest.approx([r["score"] for r in result])


def test_zero_shot_matches_transformers_pipeline(cats):
    from transformers import pipeline

    labels = ["cat", "dog", "car"]
    classify = pipeline("zero-shot-image-classification", model=path_of("openai/clip-vit-large-patch14"))
    reference = classify(cats, candidate_labels=labels, hypothesis_template="a photo of {}.")
    got = modeldeck.run("zero-shot-image-classification", cats, candidate_labels=labels)
    assert [r["label"] for r in got] == [r["label"] for r in reference]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in reference], abs=1e-5)


@pytest.mark.parametrize("labels", [None, [], ["", "  "]])
def test_zero_shot_needs_labels(labels):
    with pytest.raises(InvalidInput, match="No candidate labels"):
        modeldeck.run("zero-shot-image-classification", CATS, candidate_labels=labels)


def test_zero_shot_template_needs_a_slot():
    with pytest.raises(InvalidInput, match="must contain"):
        modeldeck.run("zero-shot-image-classification", CATS, candidate_labels=["cat"], hypothesis_template="a photo")


# -- image-to-text ------------------------------------------------------------------------------


def test_blip_captions_match_the_model_card(cats):
    from transformers import BlipForConditionalGeneration, BlipProcessor

    path = path_of("Salesforce/blip-image-captioning-base")
    processor, model = BlipProcessor.from_pretrained(path), BlipForConditionalGeneration.from_pretrained(path).eval()
    # conditional image captioning
    inputs = processor(cats, "a photography of", return_tensors="pt")
    expected = processor.decode(model.generate(**inputs, max_new_tokens=12)[0], skip_special_tokens=True)
    got = modeldeck.run("image-to-text", {"image": cats, "text": "a photography of"}, max_new_tokens=12)
    assert got == [{"generated_text": expected}]
    assert got[0]["generated_text"].startswith("a photography of")
    # unconditional image captioning
    inputs = processor(cats, return_tensors="pt")
    expected = processor.decode(model.generate(**inputs, max_new_tokens=12)[0], skip_special_tokens=True)
    assert modeldeck.run("image-to-text", cats, max_new_tokens=12) == [{"generated_text": expected}]


def test_vit_gpt2_captions_match_the_model_card(cats):
    from transformers import AutoTokenizer, ViTImageProcessor, VisionEncoderDecoderModel

    path = path_of("nlpconnect/vit-gpt2-image-captioning")
    model = VisionEncoderDecoderModel.from_pretrained(path).eval()
    feature_extractor = ViTImageProcessor.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    pixel_values = feature_extractor(images=[cats], return_tensors="pt").pixel_values
    output_ids = model.generate(pixel_values, max_length=16, num_beams=4)
    expected = [p.strip() for p in tokenizer.batch_decode(output_ids, skip_special_tokens=True)][0]
    got = modeldeck.run("image-to-text", cats, model="nlpconnect/vit-gpt2-image-captioning", max_new_tokens=15, num_beams=4)
    assert got == [{"generated_text": expected}]
    prefixed = modeldeck.run("image-to-text", {"image": cats, "text": "A cat"}, model="nlpconnect/vit-gpt2-image-captioning", max_new_tokens=5)
    assert prefixed[0]["generated_text"].startswith("A cat")


def test_caption_length_is_a_parameter(chelsea):
    short = modeldeck.run("image-to-text", chelsea, max_new_tokens=2)[0]["generated_text"]
    longer = modeldeck.run("image-to-text", chelsea, max_new_tokens=8)[0]["generated_text"]
    assert len(short) < len(longer) and longer.startswith(short[:3])
    assert modeldeck.run("image-to-text", chelsea, max_new_tokens=8) == modeldeck.run("image-to-text", chelsea, max_new_tokens=8)


# -- visual-question-answering ------------------------------------------------------------------


def test_vqa_matches_the_model_card_and_scores_the_answer(cats):
    from transformers import BlipForQuestionAnswering, BlipProcessor

    path = path_of("Salesforce/blip-vqa-base")
    processor, model = BlipProcessor.from_pretrained(path), BlipForQuestionAnswering.from_pretrained(path).eval()
    question = "how many cats are there?"
    inputs = processor(cats, question, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=6, output_scores=True, return_dict_in_generate=True)
    expected = processor.decode(out.sequences[0], skip_special_tokens=True)
    got = modeldeck.run("visual-question-answering", {"image": cats, "question": question}, max_new_tokens=6)
    assert [r["answer"] for r in got] == [expected]
    # greedy decoding: the answer's probability is the product of each step's top probability
    steps = [torch.softmax(s[0].float(), -1).max().item() for s in out.scores]
    assert got[0]["score"] == pytest.approx(float(np.prod(steps)), rel=1e-4)
    assert 0.0 < got[0]["score"] <= 1.0


def test_vqa_needs_a_question():
    with pytest.raises(InvalidInput, match="question"):
        modeldeck.run("visual-question-answering", {"image": CATS})
    with pytest.raises(InvalidInput, match="empty"):
        modeldeck.run("visual-question-answering", {"image": CATS, "question": "  "})


# -- image-text-matching ------------------------------------------------------------------------


def test_itm_matches_the_model_card(cats, chelsea):
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    path = path_of("Salesforce/blip-itm-base-coco")
    processor, model = BlipProcessor.from_pretrained(path), BlipForImageTextRetrieval.from_pretrained(path).eval()
    texts = ["two cats sleeping on a pink blanket", "an astronaut", "a cat"]
    expected = {}
    for text in texts:
        inputs = processor(images=cats, text=text, return_tensors="pt")
        with torch.no_grad():
            itm = model(**inputs).itm_score.softmax(-1)[0, 1].item()
            cosine = model(**inputs, use_itm_head=False).itm_score[0, 0].item()
        expected[text] = (itm, cosine)
    got = modeldeck.run("image-text-matching", {"text": texts, "image": cats}, cosine=True)
    assert [r["score"] for r in got] == sorted((r["score"] for r in got), reverse=True)
    assert sorted(r["text"] for r in got) == sorted(texts)
    for r in got:
        assert r["score"] == pytest.approx(expected[r["text"]][0], abs=1e-5)
        assert r["cosine"] == pytest.approx(expected[r["text"]][1], abs=1e-5)


def test_itm_ranks_images_for_a_text(chelsea):
    from skimage import data

    images = [CATS, chelsea, data.astronaut()]
    got = modeldeck.run("image-text-matching", ("a cat", images), batch_size=2)
    assert sorted(str(r["image"]) for r in got) == sorted([CATS, "1", "2"])
    alone = {i: modeldeck.run("image-text-matching", ("a cat", [img]))[0]["score"] for i, img in enumerate(images)}
    for r in got:
        index = 0 if r["image"] == CATS else r["image"]
        assert r["score"] == pytest.approx(alone[index], abs=1e-5)


def test_itm_rejects_many_to_many():
    with pytest.raises(InvalidInput, match="one image against several texts, or one text against several images"):
        modeldeck.run("image-text-matching", {"text": ["a", "b"], "image": [CATS, CATS]})


def test_itm_cli_ranks_images(cli):
    result = cli("run", "image-text-matching", "two cats", CATS, CATS, "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["image"] for r in rows] == [CATS, CATS] and rows[0]["score"] == pytest.approx(rows[1]["score"])


# -- bad input, through the CLI as people meet it -----------------------------------------------


def test_bad_images_get_one_clear_line(cli, tmp_path, monkeypatch):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not really a photo\n")
    cut = tmp_path / "cut.png"
    cut.write_bytes(open(CATS, "rb").read()[:5000])
    cases = {
        str(fake): "is text, not an image",
        str(cut): "damaged or cut short",
        str(tmp_path / "missing.png"): "No such image file",
    }
    for task in ("object-detection", "depth-estimation"):
        for path, message in cases.items():
            result = cli("run", task, path)
            assert result.code != 0 and message in result.err and "Traceback" not in result.err, (task, result.err)
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_PIXELS", "100000")
    result = cli("run", "depth-estimation", CATS)
    assert result.code != 0 and "over the limit" in result.err and "--downscale" in result.err
    result = cli("run", "depth-estimation", CATS, "--downscale", "--json")
    assert result.code == 0, result.err
    shrunk = decode_png(json.loads(result.out)["depth"])
    assert shrunk.width * shrunk.height <= 100000 and shrunk.width > shrunk.height


def test_empty_label_list_in_the_cli(cli):
    result = cli("run", "zero-shot-image-classification", CATS, "--candidate-labels", " , ")
    assert result.code != 0 and "No candidate labels" in result.err and "Traceback" not in result.err


def test_long_texts_are_truncated_not_crashes():
    long = " ".join(["a very long description of a furry animal sitting on a pink couch"] * 60)
    labels = modeldeck.run("zero-shot-image-classification", CATS, candidate_labels=[long, "dog"],
                           hypothesis_template="a {} photo of {kind}")
    assert sum(r["score"] for r in labels) == pytest.approx(1.0)
    assert modeldeck.run("visual-question-answering", {"image": CATS, "question": long})[0]["answer"] is not None
    assert len(modeldeck.run("image-text-matching", {"text": [long, "two cats"], "image": CATS})) == 2
