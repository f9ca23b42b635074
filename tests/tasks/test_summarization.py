"""summarization on the fixture hub: parity with the model card's generate(), lengths, long input."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, Notice
from modeldeck.hub import resolve

ARTICLE = """New York (CNN)When Liana Barrientos was 23 years old, she got married in Westchester County, New York.
A year later, she got married again in Westchester County, but to a different man and without divorcing her first husband.
Only 18 days after that marriage, she got hitched yet again. Then, Barrientos declared "I do" five more times, sometimes only within two weeks of each other.
In 2010, she married once more, this time in the Bronx. In an application for a marriage license, she stated it was her "first and only" marriage."""


@pytest.fixture(scope="module")
def reference():
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    path = resolve("facebook/bart-large-cnn").path
    return AutoTokenizer.from_pretrained(path), AutoModelForSeq2SeqLM.from_pretrained(path).eval()


def test_greedy_matches_model_card(reference):
    # The card's summarizer(ARTICLE, max_length=130, min_length=30, do_sample=False), written out, greedy
    # (max_length 60 here, to keep the test quick).
    tokenizer, model = reference
    inputs = tokenizer(ARTICLE, truncation=True, return_tensors="pt")
    summary_ids = model.generate(**inputs, max_length=60, min_length=30, do_sample=False, num_beams=1)
    expected = tokenizer.decode(summary_ids[0], skip_special_tokens=True)
    got = modeldeck.run("summarization", ARTICLE, max_length=60, min_length=30, num_beams=1)
    assert got == {"summary_text": expected}


def test_model_generation_settings_are_the_default(reference):
    tokenizer, model = reference
    inputs = tokenizer(ARTICLE, truncation=True, return_tensors="pt")
    # 4 beams, length penalty 2, no repeated 3-grams: bart-large-cnn's generation_config.json.
    expected = tokenizer.decode(model.generate(**inputs, min_length=10, max_length=24)[0], skip_special_tokens=True)
    assert modeldeck.run("summarization", ARTICLE, min_length=10, max_length=24) == {"summary_text": expected}


def test_lengths_take_effect(reference):
    tokenizer, _ = reference
    runner = modeldeck.load("summarization")
    short = runner(ARTICLE, max_length=12, num_beams=1)["summary_text"]
    longer = runner(ARTICLE, min_length=40, max_length=60, num_beams=1)["summary_text"]
    assert len(tokenizer(short)["input_ids"]) < len(tokenizer(longer)["input_ids"])
    with pytest.raises(InvalidInput, match="min_length .* is larger than max_length"):
        runner(ARTICLE, min_length=50, max_length=10)


def test_long_input_is_chunked_then_summarised_once_more():
    runner = modeldeck.load("summarization")
    text = " ".join([ARTICLE] * 12)
    with runner.leased() as state:
        assert state.count(text) > state.window
    with pytest.warns(Notice, match=r"summarised in 1 round\(s\) of chunks, then once more"):
        result = runner(text, max_length=20, min_length=5, num_beams=1)
    assert result["summary_text"].strip()


def test_long_input_truncated_when_asked(cli):
    runner = modeldeck.load("summarization")
    text = " ".join([ARTICLE] * 12)
    with pytest.warns(Notice, match="only the first 1024"):
        truncated = runner(text, max_length=20, num_beams=1, long_input="truncate")
    assert truncated["summary_text"]
    out = cli("run", "summarization", text, "--max-length", "20", "--num-beams", "1", "--long-input", "truncate", "--json")
    assert out.code == 0 and json.loads(out.out) == truncated and "Note:" in out.err
    bad = cli("run", "summarization", text, "--long-input", "drop")
    assert bad.code != 0 and "chunk" in bad.err


def test_empty_text_is_rejected(cli):
    with pytest.raises(InvalidInput, match="empty"):
        modeldeck.run("summarization", "")
    assert "empty" in cli("run", "summarization", "  ").err
