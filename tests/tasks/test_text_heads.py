"""token-classification, zero-shot-classification and text-ranking on the fixture hub: parity with
transformers' pipelines and sentence-transformers' CrossEncoder on the same tiny weights, offsets into the
original text, long texts in windows, parameters taking effect, clear errors, the CLI."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, WrongModelType
from modeldeck.hub import resolve

NER = "dslim/bert-base-NER"
TEXT = "My name is Wolfgang and I live in Berlin with Angela Merkel and Sarah in Washington."


def path_of(model_id):
    return str(resolve(model_id).path)


@pytest.fixture(scope="module")
def ner_pipeline():
    from transformers import pipeline

    return pipeline("token-classification", model=path_of(NER), device="cpu")


def same_entities(got, expected):
    assert len(got) == len(expected), (got, expected)
    for mine, theirs in zip(got, expected):
        assert set(mine) == set(theirs)
        assert {k: v for k, v in mine.items() if k != "score"} == {k: v for k, v in theirs.items() if k != "score"}
        assert mine["score"] == pytest.approx(float(theirs["score"]), abs=1e-5)


# -- token-classification ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_entities_match_transformers_token_classification_pipeline(ner_pipeline, strategy):
    expected = ner_pipeline(TEXT, aggregation_strategy=strategy)
    got = modeldeck.run("token-classification", TEXT, aggregation_strategy=strategy)
    same_entities(got, expected)


def test_word_strategies_join_a_words_pieces_and_differ_from_simple():
    simple = modeldeck.run("ner", TEXT, aggregation_strategy="simple")
    assert any(e["word"].startswith("##") for e in simple)  # random labels split "Wolf" "##gang"
    for strategy in ("first", "average", "max"):
        words = modeldeck.run("ner", TEXT, aggregation_strategy=strategy)
        assert not any(e["word"].startswith("##") for e in words)  # whole words only
    assert modeldeck.run("ner", TEXT, aggregation_strategy="average") != modeldeck.run(
        "ner", TEXT, aggregation_strategy="max")


@pytest.mark.parametrize("text", [TEXT, "  Leading spaces,\ttabs and\n\nZoë Müller in Berlin — “quoted” 東京 🙂.  "])
def test_offsets_point_into_the_original_text(text):
    for strategy in ("none", "simple", "first"):
        for entity in modeldeck.run("ner", text, aggregation_strategy=strategy, ignore_labels=[]):
            assert 0 <= entity["start"] < entity["end"] <= len(text)
            span = text[entity["start"] : entity["end"]]
            assert span.strip() == span and span  # a real piece of the text, no padding
            if strategy == "none" and entity["word"] != "[UNK]":
                assert entity["word"].removeprefix("##") == span


def test_ignore_labels_takes_effect():
    everything = modeldeck.run("ner", TEXT, aggregation_strategy="none", ignore_labels=[])
    default = modeldeck.run("ner", TEXT, aggregation_strategy="none")
    assert default == [e for e in everything if e["entity"] != "O"]
    common = max({e["entity"] for e in everything}, key=lambda label: sum(e["entity"] == label for e in everything))
    without = modeldeck.run("ner", TEXT, aggregation_strategy="none", ignore_labels=["O", common])
    assert without == [e for e in everything if e["entity"] not in ("O", common)] and len(without) < len(default)


def long_text(sentences=90):
    return " ".join(f"Sentence {i}: {TEXT}" for i in range(sentences))  # about 2,500 tokens


def test_a_long_text_is_tagged_in_windows_as_transformers_does_with_stride(ner_pipeline):
    text = long_text()
    runner = modeldeck.load("token-classification")
    before = runner.stats()["items"]
    got = runner(text, stride=32)
    assert runner.stats()["items"] - before >= 5, "the text went through as several windows"
    same_entities(got, ner_pipeline(text, aggregation_strategy="simple", stride=32))
    assert got[-1]["end"] > len(text) - 20  # the end of the text was read, not cut
    tokens = runner(text, aggregation_strategy="none", stride=32)
    indices = [e["index"] for e in tokens]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)  # positions in the whole text, once


def test_a_stride_as_long_as_the_window_is_refused():
    with pytest.raises(InvalidInput, match="stride is 510, but dslim/bert-base-NER reads 510 tokens"):
        modeldeck.run("ner", TEXT, stride=510)


def test_ner_cli_json_and_text(cli):
    done = cli("run", "ner", TEXT, "--json")
    assert done.code == 0, done.err
    rows = json.loads(done.out)
    assert rows and set(rows[0]) == {"entity_group", "score", "word", "start", "end"}
    done = cli("run", "token-classification", TEXT, "--aggregation-strategy", "first")
    assert done.code == 0 and "Wolfgang" in done.out, done.err


# -- zero-shot-classification ---------------------------------------------------------------------

ZS = "facebook/bart-large-mnli"
SEQUENCE = "I have a problem with my iphone that needs to be resolved asap!!"
LABELS = ["urgent", "not urgent", "phone", "tablet", "computer"]


@pytest.fixture(scope="module")
def zs_pipeline():
    from transformers import pipeline

    return pipeline("zero-shot-classification", model=path_of(ZS), device="cpu")


@pytest.mark.parametrize("params", [{}, {"multi_label": True}, {"hypothesis_template": "The topic is {}."}])
def test_zero_shot_matches_transformers_pipeline(zs_pipeline, params):
    expected = zs_pipeline(SEQUENCE, candidate_labels=LABELS, **params)
    got = modeldeck.run("zero-shot-classification", SEQUENCE, candidate_labels=LABELS, **params)
    assert [r["label"] for r in got] == expected["labels"]
    assert [r["score"] for r in got] == pytest.approx(expected["scores"], abs=1e-5)


def test_zero_shot_scores_sum_to_one_unless_multi_label_and_one_label_stands_alone(zs_pipeline):
    single = modeldeck.run("zero-shot-classification", SEQUENCE, candidate_labels=LABELS)
    assert sum(r["score"] for r in single) == pytest.approx(1.0, abs=1e-5)
    multi = modeldeck.run("zero-shot-classification", SEQUENCE, candidate_labels=LABELS, multi_label=True)
    assert sum(r["score"] for r in multi) != pytest.approx(1.0, abs=1e-3)
    alone = modeldeck.run("zero-shot-classification", SEQUENCE, candidate_labels="urgent")
    assert alone[0]["score"] == pytest.approx(zs_pipeline(SEQUENCE, candidate_labels=["urgent"])["scores"][0], abs=1e-5)


def test_a_long_text_is_cut_with_a_notice_as_transformers_cuts_it(zs_pipeline):
    text = " ".join([SEQUENCE] * 120)  # about 2,000 tokens; BART reads 1,024
    with modeldeck.notices.collected() as notes:
        got = modeldeck.run("zero-shot-classification", text, candidate_labels=LABELS[:3])
    assert any("too long" in n and "cut" in n for n in notes), notes
    expected = zs_pipeline(text, candidate_labels=LABELS[:3])
    assert [r["score"] for r in got] == pytest.approx(expected["scores"], abs=1e-5)


@pytest.mark.parametrize("params, error, message", [
    ({}, InvalidInput, "No candidate labels"),
    ({"candidate_labels": [" ", ""]}, InvalidInput, "No candidate labels"),
    ({"candidate_labels": ["a"], "hypothesis_template": "no slot"}, InvalidInput, "must contain"),
    ({"candidate_labels": ["a"], "hypothesis_template": "{} and {}"}, InvalidInput, "must contain"),
    ({"candidate_labels": ["word " * 1100]}, InvalidInput, "no room for the text"),
    ({"candidate_labels": ["a"], "model": "distilbert/distilbert-base-uncased-finetuned-sst-2-english"},
     WrongModelType, "not an NLI model.*no 'entailment'"),
])
def test_zero_shot_bad_input_is_clear(params, error, message):
    with pytest.raises(error, match=message):
        modeldeck.run("zero-shot-classification", SEQUENCE, **params)


def test_zero_shot_cli(cli):
    done = cli("run", "zero-shot-classification", SEQUENCE, "--candidate-labels", "urgent,phone", "--multi-label",
               "--json")
    assert done.code == 0, done.err
    assert {r["label"] for r in json.loads(done.out)} == {"urgent", "phone"}


# -- text-ranking ---------------------------------------------------------------------------------

RERANK = "cross-encoder/ms-marco-MiniLM-L-6-v2"
QUERY = "How many people live in Berlin?"
DOCUMENTS = [
    "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
    "Berlin is well known for its museums.",
    "New York City is famous for the Metropolitan Museum of Art.",
]


@pytest.fixture(scope="module")
def cross_encoder():
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path_of(RERANK), device="cpu")


def test_ranking_matches_the_model_cards_cross_encoder(cross_encoder):
    logits = cross_encoder.predict([(QUERY, d) for d in DOCUMENTS])  # the card's usage: raw logits
    raw = modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS}, raw_scores=True)
    order = sorted(range(len(DOCUMENTS)), key=lambda i: -logits[i])
    assert [r["index"] for r in raw] == order
    assert [r["score"] for r in raw] == pytest.approx([float(logits[i]) for i in order], abs=1e-5)
    assert [r["text"] for r in raw] == [DOCUMENTS[i] for i in order]
    ranked = cross_encoder.rank(QUERY, DOCUMENTS)
    assert [r["corpus_id"] for r in ranked] == order
    relevance = modeldeck.run("rerank", {"query": QUERY, "documents": DOCUMENTS})
    import torch

    expected = torch.tensor([float(logits[i]) for i in order]).sigmoid().tolist()
    assert [r["score"] for r in relevance] == pytest.approx(expected, abs=1e-6)
    assert all(0 <= r["score"] <= 1 for r in relevance)


def test_top_n_and_one_document():
    full = modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS})
    assert modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS}, top_n=2) == full[:2]
    one = modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS[1]})
    assert [r["index"] for r in one] == [0] and one[0]["text"] == DOCUMENTS[1]


def test_a_long_document_is_cut_with_a_notice_or_refused(cross_encoder):
    long = " ".join(DOCUMENTS * 60)  # about 1,700 tokens; MiniLM reads 512
    with modeldeck.notices.collected() as notes:
        got = modeldeck.run("text-ranking", {"query": QUERY, "documents": [DOCUMENTS[0], long]}, raw_scores=True)
    assert any("Document 1" in n and "cut" in n for n in notes), notes
    by_index = {r["index"]: r["score"] for r in got}
    assert by_index[1] == pytest.approx(float(cross_encoder.predict([(QUERY, long)])[0]), abs=1e-5)
    with pytest.raises(InvalidInput, match="Document 1 with the query is longer than the 512 tokens"):
        modeldeck.run("text-ranking", {"query": QUERY, "documents": [DOCUMENTS[0], long]}, truncate=False)


def test_a_classifier_with_several_labels_is_no_reranker():
    with pytest.raises(WrongModelType, match="gives 2 scores per text"):
        modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS},
                      model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")


def test_ranking_cli(cli):
    done = cli("run", "rerank", QUERY, *DOCUMENTS, "--top-n", "2", "--json")
    assert done.code == 0, done.err
    rows = json.loads(done.out)
    assert len(rows) == 2 and set(rows[0]) == {"index", "score", "text"}
    done = cli("run", "text-ranking", QUERY, *DOCUMENTS)
    assert done.code == 0 and "#0" in done.out and DOCUMENTS[2] in done.out, done.err
