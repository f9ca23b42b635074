"""Caps on the work one request may ask for, so a UI or server started for others stays up.

Each cap has a default that suits one person on a laptop and an environment
variable to raise or tighten it. Parameters name their cap in the spec
(``Param(..., limit="beams")``); a value over it is refused before any work
starts, naming the parameter, the cap and how to raise it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import InvalidInput


@dataclass(frozen=True)
class Limit:
    default: float
    env: str
    what: str


LIMITS = {
    "beams": Limit(16, "MODELDECK_MAX_BEAMS", "beam search width"),
    "sequences": Limit(16, "MODELDECK_MAX_SEQUENCES", "sequences per request"),
    "new_tokens": Limit(4096, "MODELDECK_MAX_NEW_TOKENS", "tokens generated per request"),
    "batch": Limit(256, "MODELDECK_MAX_BATCH", "items per forward pass"),
    "grid": Limit(64, "MODELDECK_MAX_GRID", "SAM grid points per side"),
    "speech_chars": Limit(20_000, "MODELDECK_MAX_SPEECH_CHARS", "characters of text to speak per request"),
    "audio_seconds": Limit(4 * 3600, "MODELDECK_MAX_AUDIO_SECONDS", "seconds of audio per request"),
    "texts": Limit(10_000, "MODELDECK_MAX_TEXTS", "texts or labels per request"),
    "text_chars": Limit(2_000_000, "MODELDECK_MAX_TEXT_CHARS", "characters per text"),
    "turns": Limit(1000, "MODELDECK_MAX_TURNS", "turns per conversation"),
    # work per request (modeldeck.workload): the product of parameters each within its own bound
    "image_work": Limit(256, "MODELDECK_MAX_IMAGE_WORK", "megapixel-steps per request"),
    "token_work": Limit(65_536, "MODELDECK_MAX_TOKEN_WORK", "tokens per request"),
    "json_depth": Limit(32, "MODELDECK_MAX_JSON_DEPTH", "levels of nesting in a JSON body"),
    "body_mb": Limit(50, "MODELDECK_MAX_BODY_MB", "MB in one request body to the web UI"),  # the server: --max-body-mb
}


def value(name: str) -> float:
    """The cap ``name`` in force (its environment variable, else its default)."""
    limit = LIMITS[name]
    raw = os.environ.get(limit.env, "").strip().replace("_", "")
    if not raw:
        return limit.default
    try:
        number = float(raw)
    except ValueError:
        number = -1
    if number <= 0:
        raise InvalidInput(f"{limit.env}={raw!r} is not a positive number.", f"Set it to a number like {limit.default:g}.")
    return number


def number(amount: float) -> str:
    """A count as people write it: 2,000,001 (never 2e+06, which hides the difference from 2,000,000)."""
    if isinstance(amount, float) and not amount.is_integer():
        return f"{amount:,.6g}"
    if abs(amount) >= 1e18:
        return f"{amount:.3g}"
    return f"{int(amount):,}"


def check(name: str, amount: float, what: str, param: str | None = None) -> None:
    """Refuse ``amount`` of ``what`` (about the input or parameter ``param``) when it is over the cap ``name``."""
    cap = value(name)
    if amount > cap:
        limit = LIMITS[name]
        raise InvalidInput(
            f"{what} is {number(amount)}, over the limit of {number(cap)} {limit.what}.",
            f"Ask for less, or raise the limit with {limit.env}={math.ceil(min(max(cap * 4, amount), 1e18))}.",
            param=param,
        )


def check_conversation(turns) -> None:
    """A conversation's turns and total characters under their caps (before each turn is looked at, so a
    20,000-turn request is refused at once)."""
    check("turns", len(turns), "The number of turns in the conversation")
    chars = 0
    for turn in turns:
        content = turn.get("content") if isinstance(turn, dict) else turn
        chars += len(content) if isinstance(content, str) else 0
    check("text_chars", chars, "The length of the conversation (characters)")


def at_most(value: int | None, available: int, name: str, what: str) -> int | None:
    """``value`` cut to the ``available`` there are, saying so (a top_k of 1,000,000 over 2 labels gives the 2)."""
    if value is None or value <= available:
        return value
    from .notices import notice

    notice(f"{name} is {number(value)}, but there are only {number(available)} {what}: all {number(available)} "
           "are given.")
    return available
