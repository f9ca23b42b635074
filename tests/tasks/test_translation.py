"""translation on the fixture hub: NLLB and Marian parity with their model cards, language codes, long text."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, Notice
from modeldeck.generation import split_to_fit
from modeldeck.hub import resolve

ARTICLE = "The weather is nice in Paris during the spring."
MARIAN = "Helsinki-NLP/opus-mt-en-fr"


@pytest.fixture(scope="module")
def nllb():
    from transformers import AutoModelForSeq2SeqLM

    path = resolve("facebook/nllb-200-distilled-600M").path
    return path, AutoModelForSeq2SeqLM.from_pretrained(path).eval()


@pytest.mark.parametrize("src_lang, tgt_lang", [("eng_Latn", "fra_Latn"), ("fra_Latn", "deu_Latn")])
def test_nllb_matches_model_card(nllb, src_lang, tgt_lang):
    from transformers import AutoTokenizer

    path, model = nllb
    tokenizer = AutoTokenizer.from_pretrained(path, src_lang=src_lang)
    inputs = tokenizer(ARTICLE, return_tensors="pt")
    translated_tokens = model.generate(
        **inputs, forced_bos_token_id=tokenizer.convert_tokens_to_ids(tgt_lang), max_new_tokens=20
    )
    assert translated_tokens[0, 1] == tokenizer.convert_tokens_to_ids(tgt_lang)
    expected = tokenizer.batch_decode(translated_tokens, skip_special_tokens=True)[0]
    got = modeldeck.run("translation", ARTICLE, src_lang=src_lang, tgt_lang=tgt_lang, max_new_tokens=20)
    assert got == {"translation_text": expected}


def test_nllb_source_language_defaults_to_english():
    a = modeldeck.run("translation", ARTICLE, tgt_lang="fra_Latn", max_new_tokens=8)
    assert a == modeldeck.run("translation", ARTICLE, src_lang="eng_Latn", tgt_lang="fra_Latn", max_new_tokens=8)


def test_marian_matches_model_card():
    from transformers import MarianMTModel, MarianTokenizer

    path = resolve(MARIAN).path
    tokenizer = MarianTokenizer.from_pretrained(path)
    model = MarianMTModel.from_pretrained(path).eval()
    src_text = [ARTICLE]
    translated = model.generate(**tokenizer(src_text, return_tensors="pt", padding=True), num_beams=1, max_new_tokens=20)
    expected = [tokenizer.decode(t, skip_special_tokens=True) for t in translated][0]
    assert modeldeck.run("translation", ARTICLE, model=MARIAN, num_beams=1, max_new_tokens=20) == {
        "translation_text": expected
    }
    # Its own pair may be named, in either form the model knows.
    assert modeldeck.run("translation", ARTICLE, model=MARIAN, src_lang="en", tgt_lang="fr", num_beams=1, max_new_tokens=20)[
        "translation_text"
    ] == expected


def test_language_list():
    languages = modeldeck.load("translation").info("list_languages")
    assert languages["source"] == languages["target"] and len(languages["target"]) == 202
    assert {"eng_Latn", "fra_Latn", "zho_Hans", "zul_Latn"} <= set(languages["target"])
    assert modeldeck.load("translation", MARIAN).info("list_languages") == {"source": ["en"], "target": ["fr"]}


def test_cli_list_languages(cli):
    result = cli("run", "translation", "--list-languages")
    assert result.code == 0
    lines = result.out.split()
    assert len(lines) == 202 and "fra_Latn" in lines
    as_json = json.loads(cli("run", "translation", "--list-languages", "-m", MARIAN, "--json").out)
    assert as_json == {"source": ["en"], "target": ["fr"]}
    assert "--list-languages" in cli("run", "translation", "--help").out


@pytest.mark.parametrize(
    "params, message",
    [
        ({"tgt_lang": "fra_latn"}, r"Unknown target language 'fra_latn'.*Nearest: fra_Latn"),
        ({"tgt_lang": "french"}, r"Unknown target language 'french'.*--list-languages"),
        ({"tgt_lang": "fra_Latn", "src_lang": "eng"}, r"Unknown source language 'eng'.*eng_Latn"),
        ({}, r"Say which language to translate into.*fra_Latn"),
    ],
)
def test_language_code_errors_suggest_valid_codes(params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("translation", ARTICLE, **params)


def test_marian_names_its_pair_when_asked_for_another():
    with pytest.raises(InvalidInput, match="translates into 'fr', not 'de'.*opus-mt-en-de"):
        modeldeck.run("translation", ARTICLE, model=MARIAN, tgt_lang="de")
    with pytest.raises(InvalidInput, match="translates from 'en', not 'es'"):
        modeldeck.run("translation", ARTICLE, model=MARIAN, src_lang="es")


def test_cli_unknown_code_is_one_clear_line(cli):
    result = cli("run", "translation", ARTICLE, "--tgt-lang", "fr_Latn")
    assert result.code == 1 and "fra_Latn" in result.err and "Traceback" not in result.err


def test_empty_text_is_rejected():
    with pytest.raises(InvalidInput, match="empty"):
        modeldeck.run("translation", " ", tgt_lang="fra_Latn")


def test_text_longer_than_the_window_is_translated_in_pieces():
    runner = modeldeck.load("translation", MARIAN)
    text = " ".join(["The museum opens at ten and closes at six every day except Monday."] * 60)
    with runner.leased() as state:
        count, window = state.count, state.window
    assert count(text) > window
    with pytest.warns(Notice, match=r"translated in \d+ pieces"):
        result = runner(text, max_new_tokens=4, num_beams=1)
    assert result["translation_text"]
    pieces = split_to_fit(text, count, window - 1)
    assert len(pieces) > 1 and all(count(p) <= window - 1 for p in pieces)


def test_a_long_piece_is_not_cut_at_the_models_output_cap(monkeypatch):
    runner = modeldeck.load("translation")  # NLLB: generation_config.max_length is 200
    text = " ".join(["The museum opens at ten and closes at six every day except Monday."] * 12)
    with runner.leased() as state:
        length, window, model = state.count(text), state.window, state.model
    assert 200 < 2 * length < window
    seen = {}
    real_generate = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real_generate(**{**kwargs, "max_new_tokens": 2})

    monkeypatch.setattr(model, "generate", spy)
    runner(text, tgt_lang="fra_Latn")
    assert seen["max_new_tokens"] >= 2 * length
