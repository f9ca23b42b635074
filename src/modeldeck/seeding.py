"""Reproducible draws: a block that draws from torch's process-wide generator runs under one lock,
seeded when asked; sampled text generation draws from the call's own generator instead, with no lock.

Imports nothing heavy at module level; torch and transformers are imported inside functions.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import Any

# torch's global generator is process-wide: a call that draws from it (VITS noise, min-dalle, beam
# sampling) holds this lock, so a seeded call gives the same output whatever runs beside it. Sampled text
# generation draws from its own generator instead (``own_draws``) and needs no lock.
RNG_LOCK = threading.RLock()


@contextmanager
def seeded(seed: int | None, random: bool = True):
    """Run a block that draws from torch's global generator: under ``RNG_LOCK``, seeded when a seed is
    given (the generator's state is restored afterwards). ``random=False`` with no seed: no lock needed."""
    if seed is None and not random:
        yield
        return
    with RNG_LOCK:
        if seed is None:
            yield
            return
        import torch

        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield


def drawing(kwargs: dict[str, Any], seed: int | None):
    """Where a ``generate`` call with these arguments runs: seeded under ``RNG_LOCK`` only when generate
    still draws from torch's process-wide generator itself (beam sampling; see ``own_draws``)."""
    return seeded(seed) if kwargs.get("do_sample") else nullcontext()


_WARPED = ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff")


def own_draws(kwargs: dict[str, Any], config: Any, seed: int | None) -> dict[str, Any]:
    """``generate()`` keyword arguments that sample from the call's own generator, seeded with ``seed``
    (a random one when None), instead of torch's process-wide one.

    A last logits processor applies the sampling warpers as ``generate`` would (from the model's
    generation config and the call's settings, in transformers' order), draws the token with the call's
    generator, and leaves only that token; ``generate`` then decodes greedily, so its choice is the draw.
    The draws are the ones ``torch.manual_seed(seed)`` would give, so a seed gives the same text as
    before, and no lock is held. Beam sampling keeps ``generate``'s own draw (under ``seeded``).
    """
    if not kwargs.get("do_sample") or (kwargs.get("num_beams") or getattr(config, "num_beams", 1) or 1) > 1:
        return kwargs
    import copy
    import secrets

    effective = copy.deepcopy(config)
    # what generate() fills in for settings neither the model nor the call gives (top_k 50...)
    defaults = getattr(type(config), "_get_default_generation_params", dict)()
    for name in _WARPED:
        if kwargs.get(name) is not None:
            setattr(effective, name, kwargs[name])
        elif getattr(effective, name, None) is None and name in defaults:
            setattr(effective, name, defaults[name])
    kwargs = {k: v for k, v in kwargs.items() if k not in _WARPED}
    kwargs["do_sample"] = False
    for name in _WARPED:  # the model's own sampling settings are applied by the draw, not again by generate
        if getattr(config, name, None) is not None:
            kwargs[name] = None
    draw = OwnDraw(effective, secrets.randbelow(2**63) if seed is None else seed)
    kwargs["logits_processor"] = [*kwargs.get("logits_processor", []), draw]
    return kwargs


class OwnDraw:
    """A logits processor that samples the next token from its own ``torch.Generator``."""

    def __init__(self, config: Any, seed: int):
        from transformers.generation import logits_process as lp

        warpers = []
        if config.temperature is not None and config.temperature != 1.0:
            warpers.append(lp.TemperatureLogitsWarper(config.temperature))
        if config.top_k is not None and config.top_k != 0:
            warpers.append(lp.TopKLogitsWarper(top_k=config.top_k, min_tokens_to_keep=1))
        if config.top_p is not None and config.top_p < 1.0:
            warpers.append(lp.TopPLogitsWarper(top_p=config.top_p, min_tokens_to_keep=1))
        if getattr(config, "min_p", None) is not None:
            warpers.append(lp.MinPLogitsWarper(min_p=config.min_p, min_tokens_to_keep=1))
        if getattr(config, "typical_p", None) is not None and config.typical_p < 1.0:
            warpers.append(lp.TypicalLogitsWarper(mass=config.typical_p, min_tokens_to_keep=1))
        if getattr(config, "epsilon_cutoff", None) is not None and 0.0 < config.epsilon_cutoff < 1.0:
            warpers.append(lp.EpsilonLogitsWarper(epsilon=config.epsilon_cutoff, min_tokens_to_keep=1))
        self.warpers, self.seed, self.generator = warpers, seed, None

    def __call__(self, input_ids, scores):
        import torch

        if self.generator is None:
            self.generator = torch.Generator(device=scores.device).manual_seed(self.seed)
        for warp in self.warpers:
            scores = warp(input_ids, scores)
        chosen = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1, generator=self.generator)
        only = torch.full_like(scores, float("-inf"))
        return only.scatter_(1, chosen, 0.0)
