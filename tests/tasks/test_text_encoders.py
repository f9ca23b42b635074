"""feature-extraction, sentence-similarity, text-classification, fill-mask on the fixture hub."""

import math

import numpy

import pytest

import modeldeck
from modeldeck.errors import InvalidInput


def test_feature_extraction_one_vector_per_text_in_order():
    texts = ["short", "a much longer sentence with many more words in it than the first", "mid length text"]
    vectors = modeldeck.run("feature-extraction", texts)
    assert len(vectors) == 3 and all(len(v) == 32 for v in vectors)
    alone = [modeldeck.run("feature-extraction", [t])[0] for t in texts]
    for got, expected in zip(vectors, alone):  # length sorting must not reorder results
        assert got == pytest.approx(expected, abs=1e-5)


def test_feature_extraction_matches_plain_sentence_transformers(fixture_hub):
    from sentence_transformers import SentenceTransformer

    from modeldeck.hub import resolve

    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(40)]
    plain = SentenceTransformer(str(resolve("sentence-transformers/all-MiniLM-L6-v2").path), device="cpu")
    expected = plain.encode(texts, batch_size=8)
    got = modeldeck.run("feature-extraction", texts, batch_size=8)
    numpy.testing.assert_allclose(got, expected, atol=1e-5)


def test_normalize_gives_unit_vectors():
    vectors = modeldeck.run("feature-extraction", ["hello world", "another"], normalize=True)
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-5) for v in vectors)


def test_single_string_is_one_text():
    assert len(modeldeck.run("feature-extraction", "just one")) == 1


def test_similarity_is_cosine_of_embeddings():
    source, sentences = "a cat sits", ["a cat sits", "dogs run fast", "the stock market fell"]
    scores = modeldeck.run("sentence-similarity", {"source_sentence": source, "sentences": sentences})
    assert len(scores) == 3 and scores[0] == pytest.approx(1.0, abs=1e-5)
    vectors = modeldeck.run("feature-extraction", [source, *sentences], normalize=True)
    for score, vector in zip(scores, vectors[1:]):
        assert score == pytest.approx(sum(a * b for a, b in zip(vectors[0], vector)), abs=1e-5)


@pytest.mark.parametrize("bad", ["", "   ", []])
def test_empty_text_is_rejected(bad):
    with pytest.raises(InvalidInput, match="empty"):
        modeldeck.run("feature-extraction", bad)


def test_text_classification_probabilities_and_top_k():
    result = modeldeck.run("sentiment-analysis", "I love this!")
    assert {r["label"] for r in result} == {"POSITIVE", "NEGATIVE"}
    assert sum(r["score"] for r in result) == pytest.approx(1.0)
    assert result[0]["score"] >= result[1]["score"]
    assert modeldeck.run("text-classification", "I love this!", top_k=1) == result[:1]


def test_text_classification_matches_transformers_pipeline():
    from transformers import pipeline

    from modeldeck.hub import resolve

    path = resolve("distilbert/distilbert-base-uncased-finetuned-sst-2-english").path
    reference = pipeline("text-classification", model=str(path), top_k=None)(["What a wonderful day"])[0]
    got = modeldeck.run("text-classification", "What a wonderful day")
    assert [r["label"] for r in got] == [r["label"] for r in reference]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in reference], abs=1e-6)


def test_fill_mask_matches_transformers_pipeline():
    from transformers import pipeline

    from modeldeck.hub import resolve

    path = resolve("google-bert/bert-base-uncased").path
    reference = pipeline("fill-mask", model=str(path))("Paris is the [MASK] of France.", top_k=3)
    got = modeldeck.run("fill-mask", "Paris is the [MASK] of France.", top_k=3)
    assert [r["token"] for r in got] == [r["token"] for r in reference]
    assert [r["sequence"] for r in got] == [r["sequence"] for r in reference]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in reference], abs=1e-6)


def test_fill_mask_without_mask_names_the_mask_token():
    with pytest.raises(InvalidInput, match=r"\[MASK\]"):
        modeldeck.run("fill-mask", "Paris is the capital of France.")


def test_fill_mask_two_masks_give_one_list_each():
    result = modeldeck.run("fill-mask", "[MASK] is the [MASK] of France.", top_k=2)
    assert len(result) == 2 and all(len(group) == 2 for group in result)


def test_load_reuses_the_model():
    first = modeldeck.load("fill-mask")
    assert modeldeck.load("fill-mask") is first
    assert first("a [MASK] b", top_k=1)[0]["token_str"]
