"""What the encoder tasks share: tokenizing one text to fit the model, saying so when it is cut."""

from __future__ import annotations

from typing import Any

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

