"""What the encoder tasks share: tokenizing one text (or a pair) to fit the model, saying so when it is cut."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..notices import notice


def encode_to_fit(tokenizer: Any, text: str, window: int, model_id: str) -> dict:
    """Token ids (and masks) of ``text``, cut to ``window`` tokens with a notice saying how much was cut."""
    encoded = dict(tokenizer(text, truncation=True, max_length=window))
    if len(encoded["input_ids"]) >= window:
        full = len(tokenizer(text)["input_ids"])
        if full > window:
            notice(
                f"The text is {full} tokens and {model_id} reads at most {window}: only the first {window} were "
                f"used ({full - window} cut). Split the text to use all of it."
            )
    return encoded



def fit_text(tokenizer: Any, text: str, window: int) -> str:
    """``text`` cut after its first ``window`` tokens (a pair never holds more of it), so each of many pairs
    re-reads at most that much of a long text."""
    encoded = tokenizer(text, add_special_tokens=False, truncation=True, max_length=window, return_offsets_mapping=True)
    offsets = encoded.get("offset_mapping")
    if not offsets or len(encoded["input_ids"]) < window:
        return text
    return text[: offsets[-1][1]]


def pair_tokens(tokenizer: Any, first: str, second: str, window: int, truncation: str, what: str) -> dict:
    """Token ids of the pair (``first``, ``second``) cut to ``window`` tokens by ``truncation`` ("only_first":
    only ``first`` is cut; "longest_first": the longer one first), with "cut": how many tokens were cut."""
    lengths = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in (first, second)]
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    if truncation == "only_first" and lengths[1] + specials >= window:
        raise InvalidInput(
            f"The {what} {second[:60]!r} is {lengths[1]} tokens: with it, the model has no room for the text "
            f"(it reads {window} tokens in all).",
            f"Shorten the {what}.",
        )
    encoded = dict(tokenizer(first, second, truncation=truncation, max_length=window))
    encoded["cut"] = max(0, sum(lengths) + specials - len(encoded["input_ids"]))
    return encoded
