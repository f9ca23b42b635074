"""Fitting a conversation into a model's window, in time linear in its length.

Dropping old turns one at a time and re-encoding what is left costs one encoding of the whole
conversation per dropped turn: quadratic (4,000 turns took 54 s). Here each turn's text is
counted once, the first turn to keep is found from those counts, and only the kept part (at most
about a window of tokens) is encoded with the chat template to check the guess. The template adds
tokens per turn that the counts do not see; the first check measures them and later guesses
include them, so a guess rarely needs a second look.

Standalone on purpose: it takes the turns, an ``encode`` of a list of turns and a ``count`` of
one text's tokens, so any chat runner can call it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

Turn = dict[str, str]


class MessageTooLong(ValueError):
    """Even the new message alone (with the system prompt) is over the room; ``tokens`` says how long it is."""

    def __init__(self, tokens: int):
        super().__init__(f"{tokens} tokens")
        self.tokens = tokens


def fit_turns(
    turns: list[Turn], encode: Callable[[list[Turn]], list[int]], count: Callable[[str], int], room: int
) -> tuple[list[int], int]:
    """The token ids of the latest turns that fit in ``room`` tokens, and how many turns were dropped.

    A leading system turn is always kept; the kept history starts on a user turn; the last turn (the
    new message) is never dropped: when it alone does not fit, ``MessageTooLong``.
    """
    system = turns[:1] if turns and turns[0]["role"] == "system" else []
    history = turns[len(system) :]
    newest = encode(system + history[-1:])
    if len(newest) > room:
        raise MessageTooLong(len(newest))
    n = len(history)
    if n == 1:
        return newest, 0
    full = encode(system + history) if n <= 4 else None  # short: just try it whole (the common case)
    if full is not None and len(full) <= room:
        return full, 0
    sizes = [count(turn["content"]) for turn in history]  # each turn counted once
    suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix[i] = suffix[i + 1] + sizes[i]
    base = len(newest) - sizes[-1]  # the template's fixed tokens plus one turn's own
    starts = [i for i, turn in enumerate(history) if turn["role"] == "user"]  # where a kept history may begin
    per_turn = 0.0  # template tokens per turn beyond the newest, learned from the first full encoding

    def estimate(start: int) -> float:
        return base + suffix[start] + per_turn * (n - 1 - start)

    tried = -1
    while True:
        # the estimate falls as the start moves later: the first start that fits, by bisection
        lo = bisect.bisect_right(starts, tried)
        hi = len(starts) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if estimate(starts[mid]) <= room:
                hi = mid
            else:
                lo = mid + 1
        start = starts[lo]
        if start == n - 1:
            return newest, start
        ids = encode(system + history[start:])
        if len(ids) <= room:
            return ids, start
        kept = n - 1 - start
        per_turn = max(per_turn + 1, math.ceil((len(ids) - base - suffix[start]) / kept))
        tried = start
