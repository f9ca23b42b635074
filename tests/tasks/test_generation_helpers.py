"""The helpers the generating tasks share: decoding parameters, window fitting (no models needed)."""

import pytest

from modeldeck.errors import InvalidInput
from modeldeck.generation import check_decoding, decoding_kwargs, model_window, split_to_fit


def words(text: str) -> int:
    return len(text.split())


def test_greedy_unless_sampling_is_asked_for():
    assert decoding_kwargs({"max_new_tokens": 5, "temperature": None}) == {"max_new_tokens": 5, "do_sample": False}
    assert decoding_kwargs({"temperature": 0.7})["do_sample"] is True
    assert decoding_kwargs({"seed": 1})["do_sample"] is True
    assert decoding_kwargs({"num_return_sequences": 3}) == {"num_return_sequences": 3, "do_sample": True}
    assert decoding_kwargs({"num_return_sequences": 3, "num_beams": 4})["do_sample"] is False
    assert decoding_kwargs({"temperature": 0.7, "do_sample": False}) == {"do_sample": False}
    sampled = decoding_kwargs({"temperature": 0.7, "top_p": 0.9, "top_k": 5, "repetition_penalty": 1.2})
    assert sampled == {"do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 5, "repetition_penalty": 1.2}


@pytest.mark.parametrize("params", [{"temperature": -1}, {"top_p": 0}, {"top_k": 0}, {"min_length": 9, "max_length": 3}])
def test_out_of_range_parameters(params):
    with pytest.raises(InvalidInput):
        check_decoding(params)


def test_split_to_fit_keeps_every_word_in_order_within_budget():
    text = "One two three. Four five six seven! A much longer sentence that has more words than the budget allows here. End."
    pieces = split_to_fit(text, words, 6)
    assert all(words(p) <= 6 for p in pieces)
    assert " ".join(pieces).split() == text.split()
    assert pieces[0] == "One two three."  # cut at a sentence end when the next sentence does not fit


def test_split_to_fit_cuts_words_longer_than_the_budget():
    count = len  # characters as "tokens"
    pieces = split_to_fit("a" * 25 + " bb", count, 10)
    assert all(len(p) <= 10 for p in pieces) and "".join(pieces).replace(" ", "") == "a" * 25 + "bb"


def test_model_window_takes_the_smallest_limit():
    class Config:
        max_position_embeddings = 1024

    class Model:
        config = Config()

    class Tokenizer:
        model_max_length = 512

    assert model_window(Model(), Tokenizer()) == 512
    Tokenizer.model_max_length = int(1e30)  # "no limit" in transformers
    assert model_window(Model(), Tokenizer()) == 1024
