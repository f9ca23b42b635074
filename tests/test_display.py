"""Results show themselves in Jupyter (players, pictures, tables) and stay plain values elsewhere."""

from __future__ import annotations

import base64
import io
import json
import pickle
import re
from pathlib import Path

import numpy as np
from PIL import Image

import modeldeck
from modeldeck.outputs import notebook as display
from modeldeck.jsonable import to_jsonable

CATS = Path(__file__).parent / "fixtures" / "data" / "coco-000000039769-cats.png"


def plain(value):
    """The value as plain lists and dicts (what the result was before wrapping)."""
    return json.loads(json.dumps(to_jsonable(value)))


def same_value(shown, result):
    assert shown == result and repr(shown) == repr(result)
    assert plain(shown) == plain(result)
    again = pickle.loads(pickle.dumps(shown))
    assert again == result and type(again) is type(shown)
    return shown


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", html, re.S)]


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_labels_show_as_a_table_of_labels_with_bars():
    result = modeldeck.run("text-classification", "I love this!")
    shown = same_value(display.wrap("labels", result), plain(result))
    html = shown._repr_html_()
    names = [r["label"] for r in result]
    assert "<table" in html and [c for c in cells(html) if c in names] == names
    assert html.count("width:") >= len(names)  # a bar per label
    assert shown._repr_png_() is None


def test_similarity_is_a_ranked_table_naming_the_candidates():
    sentences = ["Stocks fell.", "A cat sits on the mat.", "The train is late."]
    inputs = {"source_sentence": "A cat sits on the mat.", "sentences": sentences}
    result = modeldeck.run("sentence-similarity", inputs)
    shown = same_value(display.wrap("scores", result, inputs), plain(result))
    found = cells(shown._repr_html_())
    assert found[:3] == ["1", "A cat sits on the mat.", f"{max(result):.4f}"]
    assert set(found[1::3]) == set(sentences)


def test_fill_mask_and_text_show_their_text():
    result = modeldeck.run("fill-mask", "Paris is the [MASK] of France.", top_k=2)
    html = display.wrap("fill-mask", result)._repr_html_()
    assert all(r["sequence"] in cells(html) for r in result)
    text = display.wrap("text", [{"generated_text": "Once upon a <time>"}])
    assert "Once upon a &lt;time&gt;" in text._repr_html_() and text == [{"generated_text": "Once upon a <time>"}]


def test_audio_is_a_player_with_the_sound_in_it():
    tone = np.sin(np.arange(8000) / 5).astype(np.float32)
    result = {"audio": tone, "sampling_rate": 16000}
    shown = display.wrap("audio", result)
    assert shown["audio"] is tone and shown["sampling_rate"] == 16000
    assert pickle.loads(pickle.dumps(shown))["sampling_rate"] == 16000
    html = shown._repr_html_()
    data = re.search(r'<audio controls src="data:audio/wav;base64,([^"]+)"', html).group(1)
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(data)))
    assert rate == 16000 and len(samples) == 8000 and abs(samples).max() > 0.9
    assert "0.50 s" in html


def test_boxes_are_drawn_on_the_input_picture():
    picture = Image.open(CATS).convert("RGB")
    result = [{"label": "cat", "score": 0.9, "box": {"xmin": 10, "ymin": 20, "xmax": 300, "ymax": 400}}]
    shown = same_value(display.wrap("boxes", result, {"image": picture}), result)
    png = shown._repr_png_()
    assert png_size(png) == picture.size
    drawn = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert (drawn != np.asarray(picture)).any()  # the box is on it
    html = shown._repr_html_()
    assert "<img" in html and cells(html)[:2] == ["cat", "0.9000"]
    assert display.wrap("boxes", result)._repr_png_() is None  # no picture given: the table alone


def test_masks_overlay_the_picture_and_depth_is_a_colour_map():
    picture = Image.open(CATS).convert("RGB")
    mask = np.zeros((picture.height, picture.width), bool)
    mask[100:200, 100:300] = True
    result = [{"mask": Image.fromarray(mask), "score": 0.8}]
    shown = display.wrap("masks", result, {"image": picture})
    assert png_size(shown._repr_png_()) == picture.size and "0.8000" in cells(shown._repr_html_())

    depth = modeldeck.run("depth-estimation", str(CATS))
    kind = type(depth)
    shown = display.wrap("depth", depth)
    assert isinstance(shown, kind) and shown.predicted_depth is depth.predicted_depth
    assert repr(shown) == repr(dict(shown))
    png = shown._repr_png_()
    assert png_size(png) == picture.size and Image.open(io.BytesIO(png)).mode == "RGB"
    again = pickle.loads(pickle.dumps(shown))
    assert isinstance(again, kind) and np.array_equal(again["predicted_depth"], depth.predicted_depth)
    assert again._repr_png_() == png


def test_a_transcript_keeps_its_class_and_shows_text_and_timings():
    from modeldeck.pipelines.automatic_speech_recognition import Transcript

    transcript = Transcript(text="ask not", chunks=[{"text": " ask not", "timestamp": [0.0, 1.5]}])
    transcript.format = "srt"
    shown = display.wrap("transcript", transcript)
    assert isinstance(shown, Transcript) and shown.format == "srt" and shown.to("srt").startswith("1\n")
    assert repr(shown) == repr({"text": "ask not", "chunks": [{"text": " ask not", "timestamp": [0.0, 1.5]}]})
    assert cells(shown._repr_html_()) == ["0:00.00", "0:01.50", "ask not"]
    again = pickle.loads(pickle.dumps(shown))
    assert isinstance(again, Transcript) and again.format == "srt" and again == transcript


def test_single_pictures_are_left_alone_and_lists_of_them_show_as_pictures():
    picture = Image.new("RGB", (32, 16), "red")
    assert display.wrap("image", picture) is picture  # PIL shows itself
    two = display.wrap("image", [picture, picture])
    assert two == [picture, picture] and two._repr_html_().count("<img") == 2
    assert display.wrap("text", "just text") == "just text"


def test_generated_pictures_show_with_their_seed():
    picture = Image.new("RGB", (16, 16), "blue")
    result = {"images": [picture, picture], "nsfw": [False, True], "seed": 7, "parameters": {"steps": 2}}
    shown = display.wrap("image", result)
    assert shown == result and repr(shown) == repr(result)
    page = shown._repr_html_()
    assert page.count("<img") == 2 and "seed 7" in page and "1 blacked out" in page
    one = display.wrap("image", {"images": [picture], "nsfw": [False], "seed": 1, "parameters": {}})
    assert one._repr_png_().startswith(b"\x89PNG")


def test_tasks_show_as_a_table():
    specs = modeldeck.tasks()
    shown = display.tasks_table(specs)
    assert isinstance(shown, list) and shown == list(specs) and repr(shown) == repr(list(specs))
    names = cells(shown._repr_html_())[::5]
    assert names == [s.name for s in specs]


def test_wrapping_twice_or_something_odd_never_fails():
    once = display.wrap("labels", [{"label": "a", "score": 1.0}])
    assert display.wrap("labels", once) is once
    odd = display.wrap("labels", [{"no": "score"}])
    assert odd == [{"no": "score"}] and odd._repr_html_() is None  # falls back to the plain repr
