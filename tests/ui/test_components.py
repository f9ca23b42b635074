"""Widgets from specs: every output kind has a view, and results of the documented shapes fill it."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modeldeck.errors import InvalidInput
from modeldeck.spec import Input, OutputKind, Param, TaskSpec
from modeldeck.outputs import KINDS
from modeldeck.outputs.labels import labels_value
from modeldeck.ui import components as ui

gr = pytest.importorskip("gradio")
CATS = ui.EXAMPLES_DIR / "cats.jpg"


def spec_for(output: str, inputs=(Input("image", "image"),), params=()) -> TaskSpec:
    return TaskSpec(name=f"fake-{output}", summary="", default_model="org/model", inputs=inputs,
                    output=output, output_help="", params=params)


def view(output: str, **kwargs) -> ui.OutputView:
    with gr.Blocks():
        return ui.output_view(spec_for(output, **kwargs))


def test_every_output_kind_has_its_own_view():
    assert set(typing.get_args(OutputKind)) == set(KINDS)
    expected = {"labels": gr.Label, "scores": gr.Dataframe, "audio": gr.Audio, "boxes": gr.AnnotatedImage,
                "masks": gr.AnnotatedImage, "depth": gr.Image, "transcript": gr.Textbox, "text": gr.Textbox}
    for kind, widget in expected.items():
        assert isinstance(view(kind).components[0], widget), kind


def test_input_widgets_by_kind():
    spec = spec_for("text")
    with gr.Blocks():
        assert isinstance(ui.input_widget(spec, Input("t", "text")), gr.Textbox)
        audio = ui.input_widget(spec, Input("a", "audio"))
        assert isinstance(audio, gr.Audio) and set(audio.sources) == {"upload", "microphone"}
        assert isinstance(ui.input_widget(spec, Input("i", "image")), gr.Image)
        assert isinstance(ui.input_widget(spec, Input("i", "image", many=True)), gr.File)
        assert isinstance(ui.param_widget(spec, Param("k", int, 5)), gr.Number)
        assert isinstance(ui.param_widget(spec, Param("b", bool, True)), gr.Checkbox)
        choice = ui.param_widget(spec, Param("c", str, "x", choices=("x", "y")))
        assert isinstance(choice, gr.Dropdown) and choice.value == "x"


def test_values_from_widgets():
    assert ui.input_value(Input("s", many=True), "one\n\n two \n") == ["one", "two"]
    assert ui.input_value(Input("s"), None) is None
    assert ui.param_value(Param("k", int), 3.0) == 3
    assert ui.param_value(Param("k", int), None) is None
    assert ui.param_value(Param("l", str, many=True), "cat, dog,,bird") == ["cat", "dog", "bird"]
    assert ui.param_value(Param("t", str), "  ") is None
    with pytest.raises(InvalidInput, match="whole number"):
        ui.param_value(Param("top_k", int), 1.5)


def test_clicks_add_points_in_the_cli_format():
    text = ui.add_point("", [10.2, 20.7], many=True)
    text = ui.add_point(text, [30, 40], many=True)
    assert text == "10,21, 30,40"
    assert ui.param_value(Param("points", str, many=True), text) == ["10", "21", "30", "40"]


def test_examples_use_bundled_media():
    spec = spec_for("boxes", params=(Param("threshold", float, 0.9),))
    object.__setattr__(spec, "examples", ({"image": "cats.png"},))
    rows = ui.example_rows(spec)
    assert rows == [[str(CATS), 0.9]] and Path(rows[0][0]).is_file()
    audio = spec_for("transcript", inputs=(Input("audio", "audio"),))
    assert Path(ui.example_rows(audio)[0][0]).name == "jfk.flac"


def test_boxes_become_an_annotated_image_and_a_table():
    result = [{"label": "cat", "score": 0.9, "box": {"xmin": 10, "ymin": 20, "xmax": 100, "ymax": 200}},
              {"label": "remote", "score": 0.5, "box": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}}]
    picture, table = view("boxes").fill(result, {"image": str(CATS)})
    image, notes = picture  # the value itself (not a gr.update): API clients get files
    assert image.size == (640, 480)
    assert notes[0] == ((10, 20, 100, 200), "cat 0.90")
    assert list(table["label"]) == ["cat", "remote"]


def test_masks_become_overlays_of_the_image_size():
    mask = np.zeros((480, 640), bool)
    mask[100:200, 100:300] = True
    result = [{"mask": Image.fromarray(mask), "score": 0.8}, {"mask": mask, "score": 0.7}]
    picture, table = view("masks").fill(result, {"image": str(CATS)})
    _, notes = picture
    assert [n[0].shape for n in notes] == [(480, 640), (480, 640)]
    assert notes[0][0].max() == 1.0 and notes[0][0].sum() == 100 * 200
    assert list(table["score"]) == [0.8, 0.7]


def test_audio_becomes_playable_int16():
    rate, samples = view("audio").fill({"audio": np.sin(np.arange(16000) / 10).astype(np.float32),
                                        "sampling_rate": 16000}, {})[0]
    assert rate == 16000 and samples.dtype == np.int16 and abs(samples).max() > 30000


def test_transcript_text_and_segments():
    text, table = view("transcript").fill(
        {"text": " ask not ", "chunks": [{"text": "ask not", "timestamp": [0.0, 1.5]}, {"text": "x", "timestamp": [1.5, None]}]},
        {})
    assert text == "ask not" and table["text"].tolist() == ["ask not", "x"]
    assert table["start (s)"].tolist() == [0.0, 1.5] and table["end (s)"][0] == 1.5 and np.isnan(table["end (s)"][1])


def test_depth_and_images():
    depth = np.linspace(0, 5, 480 * 640, dtype=np.float32).reshape(480, 640)
    (picture,) = view("depth").fill({"depth": Image.fromarray((depth * 50).astype(np.uint8)), "predicted_depth": depth}, {})
    assert picture.size == (640, 480) and picture.mode == "L"
    (pictures,) = view("image").fill([Image.new("RGB", (8, 8)), Image.new("RGB", (8, 8))], {})
    assert len(pictures) == 2 and pictures[0].size == (8, 8)  # one gallery, for one picture or several
    (one,) = view("image").fill({"images": [Image.new("RGB", (8, 8))]}, {})
    assert len(one) == 1


def test_text_answers_scores_and_labels():
    text = view("text")
    assert text.fill([{"generated_text": "a"}, {"generated_text": "b"}], {}) == ["a\n\nb"]
    assert text.fill({"role": "assistant", "content": "hi"}, {}) == ["hi"]
    answer, label = view("answer").fill({"answer": "Berlin", "score": 0.75, "start": 34, "end": 40}, {})
    assert answer.startswith("Berlin") and label == {"Berlin": 0.75}
    assert labels_value([{"text": "two cats", "score": 0.6}, {"label": "dog", "score": 0.4}]) == {"two cats": 0.6, "dog": 0.4}
    (table,) = view("scores").fill([0.2, 0.9], {"source": "s", "sentences": ["low", "high"]})
    assert table.values.tolist() == [["high", 0.9], ["low", 0.2]]


def test_empty_optional_input_is_not_given_but_empty_required_input_stays():
    assert ui.input_value(Input("text", optional=True), "") is None
    assert ui.input_value(Input("text", optional=True), "   \n") is None
    assert ui.input_value(Input("labels", many=True, optional=True), "\n \n") is None
    assert ui.input_value(Input("text"), "") == ""  # the task names the empty input
    assert ui.input_value(Input("text", optional=True), "a photo of") == "a photo of"


def test_bool_without_default_is_a_three_way_choice():
    spec = spec_for("text")
    with gr.Blocks():
        unset = ui.param_widget(spec, Param("do_sample", bool, None))
        assert isinstance(unset, gr.Radio) and unset.value == "default"
        assert [c[1] if isinstance(c, tuple) else c for c in unset.choices] == ["default", "on", "off"]
        assert isinstance(ui.param_widget(spec, Param("flag", bool, False)), gr.Checkbox)
    param = Param("do_sample", bool, None)
    assert [ui.param_value(param, v) for v in ("default", "on", "off")] == [None, True, False]
    assert ui.param_value(param, True) is True and ui.param_value(param, False) is False
    with pytest.raises(InvalidInput, match="default, on, off"):
        ui.param_value(param, "maybe")
    sampling = spec_for("text", inputs=(Input("text"),), params=(param, Param("flag", bool, True)))
    object.__setattr__(sampling, "examples", ({"text": "hi"},))
    assert ui.example_rows(sampling) == [["hi", "default", True]]


def test_subtitle_format_shows_subtitles_in_the_transcript_box():
    from modeldeck.pipelines.automatic_speech_recognition import Transcript

    transcript = Transcript(text="ask not what", chunks=[{"text": " ask not", "timestamp": [0.0, 1.5]},
                                                         {"text": " what", "timestamp": [1.5, 2.25]}])
    transcript.format = "srt"
    text, table = view("transcript").fill(transcript, {})
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,500\n") and "00:00:02,250" in text
    assert table["text"].tolist() == ["ask not", "what"]
    transcript.format = "vtt"
    assert view("transcript").fill(transcript, {})[0].startswith("WEBVTT")
    transcript.format = "txt"
    assert view("transcript").fill(transcript, {})[0] == "ask not what"


def test_pasted_json_turns_become_a_conversation():
    messages = Input("messages", help='the new message, or the conversation as [{"role", "content"}] turns')
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "How are you?"}]
    import json

    assert ui.input_value(messages, json.dumps(turns, indent=1)) == turns
    assert ui.input_value(messages, "Hi there") == "Hi there"
    for text in ("[not json]", "[1, 2]", '[{"role": "user"}]', "[]"):
        assert ui.input_value(messages, text) == text  # anything else stays the plain message


def test_images_with_the_same_file_name_each_get_a_label(tmp_path):
    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        paths.append(str(tmp_path / folder / "image.jpg"))
        Image.open(CATS).save(paths[-1])
    result = [{"image": paths[1], "score": 0.7}, {"image": paths[0], "score": 0.2}]
    (labels,) = view("labels").fill(result, {"text": "cats", "image": paths})
    assert labels == {"image.jpg (2)": 0.7, "image.jpg (1)": 0.2}
    same = [{"image": paths[0], "score": 0.5}, {"image": paths[0], "score": 0.5}]  # one file given twice
    assert len(labels_value(same, {"image": [paths[0], paths[0]]})) == 2
    assert labels_value([{"image": 1, "score": 0.6}, {"image": 0, "score": 0.4}]) == {"1": 0.6, "0": 0.4}
    assert labels_value([{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.1}]) == {"cat": 0.9, "dog": 0.1}
