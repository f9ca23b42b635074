"""Every cut of a user's text is told: a Notice in Python, a Note in the CLI (HTTP: tests/server/test_fuzz.py)."""

from __future__ import annotations

import pytest

import modeldeck
from modeldeck.errors import Notice

CATS = "tests/fixtures/data/coco-000000039769-cats.png"
JFK = "tests/fixtures/data/jfk.flac"
LONG = " ".join(["a red cat sleeping on a blue sofa in the sun"] * 20)


def notices_of(task, inputs, **params) -> list[str]:
    with pytest.warns(Notice) as caught:
        modeldeck.run(task, inputs, **params)
    return [str(w.message) for w in caught if issubclass(w.category, Notice)]


def test_clip_prompts_and_negative_prompts_past_77_tokens():
    found = notices_of("text-to-image", LONG, negative_prompt=LONG, steps=1, width=64, height=64, seed=1)
    assert any(n.startswith("The prompt is") and "reads at most 77" in n for n in found), found
    assert any(n.startswith("The negative prompt is") and "reads at most 77" in n for n in found), found


def test_vqa_questions_and_image_text_matching_texts():
    found = notices_of("visual-question-answering", {"image": CATS, "question": LONG * 2}, max_new_tokens=2)
    assert any(n.startswith("The question is") for n in found), found
    found = notices_of("image-text-matching", {"image": CATS, "text": ["a cat", LONG * 2]})
    assert any(n.startswith("The text 2 is") for n in found), found


def test_zero_shot_label_sentences():
    found = notices_of("zero-shot-image-classification", CATS, candidate_labels=["cat", LONG])
    assert any("label sentence 2" in n and "reads at most" in n for n in found), found
    found = notices_of("zero-shot-audio-classification", JFK, candidate_labels=["speech", LONG * 3])
    assert any("label sentence 2" in n for n in found), found


def test_short_texts_are_not_cut_and_say_nothing(recwarn):
    modeldeck.run("visual-question-answering", {"image": CATS, "question": "what is this?"}, max_new_tokens=2)
    assert not [w for w in recwarn if issubclass(w.category, Notice)]


def test_the_cli_prints_the_note(cli):
    result = cli("run", "text-to-image", LONG, "--steps", "1", "--width", "64", "--height", "64")
    assert result.code == 0, result.err
    assert "Note: The prompt is" in result.err and "reads at most 77" in result.err
