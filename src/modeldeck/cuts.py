"""Saying so when a text is cut to what a model reads (every cut gets a notice: a Note in the CLI, a
``Notice`` in Python, the ``X-Modeldeck-Notices`` header / ``warnings`` over HTTP).

Tokenizers cut quietly with ``truncation=True``; CLIP's text encoder reads 77 tokens, BLIP's questions
and texts their position table. Call ``tell_cuts`` with the texts before encoding them that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .notices import notice


def token_count(tokenizer: Any, text: str) -> int:
    """Tokens of ``text`` as the model would read it uncut (special tokens included)."""
    return len(tokenizer(text, truncation=False)["input_ids"])


def tell_cuts(tokenizer: Any, texts: Iterable[str] | str | None, limit: int, what: str, model_id: str) -> None:
    """A notice for each of ``texts`` longer than ``limit`` tokens, saying how much of it the model never sees."""
    if texts is None or not limit or limit <= 0:
        return
    texts = [texts] if isinstance(texts, str) else list(texts)
    for n, text in enumerate(texts):
        if not isinstance(text, str) or len(text) < limit // 4:  # too short to be cut: skip the count
            continue
        count = token_count(tokenizer, text)
        if count > limit:
            which = what if len(texts) == 1 else f"{what} {n + 1}"
            notice(f"The {which} is {count} tokens and {model_id} reads at most {limit}: the last {count - limit} "
                   f"were cut and played no part. Shorten it to use all of it.")
