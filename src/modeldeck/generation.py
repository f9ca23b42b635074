"""What the text-generating tasks share: decoding parameters, seeding (``seeding``), fitting
text into a model's window, streaming, and notices.

Imports nothing heavy at module level; torch is imported inside functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import InvalidInput
from .notices import notice  # noqa: F401 - the generative tasks tell their notices through here
from .seeding import RNG_LOCK, OwnDraw, drawing, own_draws, seeded  # noqa: F401 - the tasks reach them through here
from .spec import Param

# The decoding parameters the generative tasks offer, with one meaning everywhere.
MAX_NEW_TOKENS = Param("max_new_tokens", int, None, "most tokens to generate (default: the model's own limit)", min=1,
                       limit="new_tokens")
NUM_BEAMS = Param("num_beams", int, None, "beam search width (default: the model's own setting; 1 is greedy)", min=1,
                  limit="beams")
# At least 0.01: logits divided by less overflow float32 (1e-300 gave 'probability tensor contains inf');
# near 0 sampling is greedy decoding anyway, which leaving temperature out gives.
TEMPERATURE = Param(
    "temperature", float, None, "sampling temperature (0.01 or more; lower is greedy: leave it out); giving it turns "
    "sampling on", min=0.01, max=100,
)
TOP_P = Param(
    "top_p", float, None, "nucleus sampling: keep the likeliest tokens up to this probability mass", min=0, max=1,
    exclusive_min=True,
)
TOP_K = Param("top_k", int, None, "sample among the k likeliest tokens", min=1)
REPETITION_PENALTY = Param("repetition_penalty", float, None, "> 1 discourages repeating tokens (0.01 to 100)", min=0.01,
                           max=100)
SEED = Param(
    "seed", int, None, "random seed: the same seed gives the same text; giving it turns sampling on", min=0, max=2**63 - 1
)
DO_SAMPLE = Param(
    "do_sample", bool, None, "sample instead of decoding greedily (default: on when temperature, top_p, top_k or seed is given)"
)
SAMPLING_PARAMS = (TEMPERATURE, TOP_P, TOP_K, REPETITION_PENALTY, SEED, DO_SAMPLE)

_PASSED = ("max_new_tokens", "min_new_tokens", "num_beams", "repetition_penalty", "num_return_sequences", "min_length", "max_length")


def check_decoding(params: dict[str, Any]) -> None:
    """Reject out-of-range decoding parameters with a message naming the fix."""
    rules = {
        "max_new_tokens": (lambda v: v >= 1, "at least 1"),
        "min_new_tokens": (lambda v: v >= 0, "0 or more"),
        "num_beams": (lambda v: v >= 1, "at least 1"),
        "num_return_sequences": (lambda v: v >= 1, "at least 1"),
        "temperature": (lambda v: v >= 0.01, "at least 0.01 (for greedy decoding leave it out)"),
        "top_p": (lambda v: 0 < v <= 1, "between 0 (excluded) and 1"),
        "top_k": (lambda v: v >= 1, "at least 1"),
        "repetition_penalty": (lambda v: v > 0, "greater than 0 (1 means no penalty)"),
        "min_length": (lambda v: v >= 0, "0 or more"),
        "max_length": (lambda v: v >= 1, "at least 1"),
    }
    for name, (ok, wanted) in rules.items():
        value = params.get(name)
        if value is not None and not ok(value):
            raise InvalidInput(f"{name} must be {wanted}, not {value}.", param=name)
    several = (params.get("num_return_sequences") or 1) > 1
    if several and params.get("do_sample") is False and (params.get("num_beams") or 1) < params["num_return_sequences"]:
        raise InvalidInput(
            "Several sequences need sampling (or at least as many beams): do_sample is off.",
            "Leave do_sample unset (several sequences turn sampling on), or set num_beams >= num_return_sequences.",
            param="num_return_sequences",
        )
    if params.get("min_length") is not None and params.get("max_length") is not None:
        if params["min_length"] > params["max_length"]:
            raise InvalidInput(
                f"min_length ({params['min_length']}) is larger than max_length ({params['max_length']}).",
                "Make min_length at most max_length.", param="min_length",
            )


def check_room(params: dict[str, Any], name: str, room: int, model_id: str) -> None:
    """Refuse a length parameter over what the model can write (its position table), before any work."""
    value = params.get(name)
    if value is not None and value > room:
        raise InvalidInput(
            f"{name} is {value}, but {model_id} writes at most {room} tokens.",
            f"Use --{name.replace('_', '-')} {room} or less.", param=name,
        )


def sampling_on(params: dict[str, Any]) -> bool:
    """Sample when asked to, or when a sampling knob, a seed or several return sequences are given."""
    if params.get("do_sample") is not None:
        return bool(params["do_sample"])
    if any(params.get(name) is not None for name in ("temperature", "top_p", "top_k", "seed")):
        return True
    return (params.get("num_return_sequences") or 1) > 1 and (params.get("num_beams") or 1) == 1


def decoding_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """``generate()`` keyword arguments for a task's parameters; what is not given stays the model's own."""
    kwargs = {name: params[name] for name in _PASSED if params.get(name) is not None}
    kwargs["do_sample"] = sampling_on(params)
    if kwargs["do_sample"]:
        kwargs.update({p.name: params[p.name] for p in (TEMPERATURE, TOP_P, TOP_K) if params.get(p.name) is not None})
    return kwargs


def pad_token_id(tokenizer: Any, config: Any) -> int | None:
    """The id that pads a batch: the tokenizer's pad token, else the model's, else its end token."""
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.pad_token_id
    return pad if pad is not None else (eos[0] if isinstance(eos, list) else eos)


def end_ids(tokenizer: Any, config: Any) -> set[int]:
    """The token ids that end a generated sequence."""
    eos = config.eos_token_id if config.eos_token_id is not None else tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos]) - {None}


def generate_batch(model, prompts: list[list[int]], kwargs: dict[str, Any], *, pad: int, ends: set[int],
                   decoder_only: bool, device: str, limits: list[int | None] | None = None) -> list[list[int]]:
    """Each prompt's generated sequence, from one padded ``generate`` call, as it would be alone.

    Decoder-only prompts are padded on the left (attention masks keep the padding out, and ``generate``
    numbers positions from the mask), encoder inputs on the right; the padding and what ``generate`` put
    after a sequence's end token are cut off again. ``limits``: each prompt's own max_new_tokens where
    the call used a larger one for all (greedy decoding only: its first tokens do not depend on it).
    """
    import torch

    copies = kwargs.get("num_return_sequences") or 1
    if copies > 1 and not kwargs.get("do_sample") and any(isinstance(p, OwnDraw) for p in kwargs.get("logits_processor", ())):
        # greedy decoding of the call's own draws: generate() takes no several sequences then, so each
        # prompt goes in as many times (as generate() itself expands it when it samples)
        kwargs = {k: v for k, v in kwargs.items() if k != "num_return_sequences"}
        prompts = [p for p in prompts for _ in range(copies)]
        limits = [n for n in limits for _ in range(copies)] if limits is not None else None
    longest = max(len(p) for p in prompts)
    gaps = [longest - len(p) for p in prompts]
    rows = [[pad] * g + p if decoder_only else p + [pad] * g for p, g in zip(prompts, gaps)]
    masks = [[0] * g + [1] * len(p) if decoder_only else [1] * len(p) + [0] * g for p, g in zip(prompts, gaps)]
    out = model.generate(
        input_ids=torch.tensor(rows, device=device), attention_mask=torch.tensor(masks, device=device), **kwargs
    )
    per_prompt = out.shape[0] // len(prompts)  # num_return_sequences rows each
    sequences = []
    for row, sequence in enumerate(out.tolist()):
        index = row // per_prompt
        start = gaps[index] if decoder_only else 0
        sequence = sequence[start:]
        first_new = len(prompts[index]) if decoder_only else 1  # an encoder-decoder's first token starts it
        limit = limits[index] if limits is not None else None
        if limit is not None:
            sequence = sequence[: first_new + limit]
        for i in range(first_new, len(sequence)):
            if sequence[i] in ends:
                sequence = sequence[: i + 1]
                break
        sequences.append(sequence)
    return sequences


def model_window(model: Any, tokenizer: Any = None, default: int = 1024) -> int:
    """How many tokens the model reads at once: its position table, capped by the tokenizer's limit."""
    config = getattr(model, "config", model)
    sizes = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions", "max_sequence_length")]
    sizes = [s for s in sizes if isinstance(s, int) and s > 0]
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        sizes.append(limit)
    return min(sizes) if sizes else default


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n\s*\n")


def split_to_fit(text: str, count: Callable[[str], int], budget: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``budget`` tokens (by ``count``), at sentence ends where possible.

    A sentence longer than the budget is cut between words; a word longer than
    the budget between characters. Pieces are packed greedily, in order.
    """
    if budget < 1:
        raise ValueError("budget must be positive")
    units: list[tuple[str, int]] = []
    for sentence in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
        n = count(sentence)
        if n <= budget:
            units.append((sentence, n))
            continue
        for word in sentence.split():
            n = count(word)
            while n > budget:  # a "word" with no spaces longer than the window (URLs, scripts without spaces)
                cut = max(1, len(word) * budget // n)
                units.append((word[:cut], count(word[:cut])))
                word = word[cut:]
                n = count(word)
            if word:
                units.append((word, n))
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit, n in units:
        # +1: joining may cost a token at the seam.
        if current and used + n + 1 > budget:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(unit)
        used += n + (1 if used else 0)
    if current:
        pieces.append(" ".join(current))
    # The sum of counts is an estimate; re-split any piece that came out too long.
    out = []
    for piece in pieces:
        if count(piece) > budget and " " in piece:
            words = piece.split()
            half = len(words) // 2
            out += split_to_fit(" ".join(words[:half]), count, budget) + split_to_fit(" ".join(words[half:]), count, budget)
        else:
            out.append(piece)
    return out


def text_tokens(tokenizer: Any) -> Callable[[str], int]:
    """Token count of a text without special tokens."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def special_token_count(tokenizer: Any) -> int:
    """How many special tokens the tokenizer adds around a text."""
    return len(tokenizer("a", add_special_tokens=True)["input_ids"]) - len(tokenizer("a", add_special_tokens=False)["input_ids"])


class Piece(str):
    """A piece of streamed text, with the tokens that made it: their ids and, where known, log-probabilities
    (a piece may hold several tokens: a character split over two byte tokens comes out whole)."""

    ids: tuple[int, ...] = ()
    logprobs: tuple[float | None, ...] = ()

    def __new__(cls, text: str, ids=(), logprobs=()):
        piece = super().__new__(cls, text)
        piece.ids, piece.logprobs = tuple(ids), tuple(logprobs)
        return piece


class LogprobRecorder:
    """A logits processor that keeps each step's log-probabilities (what the model gives, after its own processors
    such as repetition penalty, before sampling settings), so the token chosen at the step can be looked up.
    Put it first among the call's processors; it changes nothing."""

    def __init__(self):
        self.current = None

    def __call__(self, input_ids, scores):
        import torch

        self.current = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def of(self, ids) -> list[float | None]:
        """The log-probabilities, at the step just taken, of the tokens chosen for each row (``ids``: [rows])."""
        if self.current is None or self.current.shape[0] != ids.shape[0]:
            return [None] * int(ids.shape[0])  # beams reorder rows: not known
        return self.current.gather(1, ids.reshape(-1, 1).to(self.current.device))[:, 0].tolist()


class TokenLogprobs:
    """A transformers streamer that collects, per row, the log-probability of each new token (from a recorder)."""

    def __init__(self, recorder: LogprobRecorder):
        self.recorder, self.first, self.rows = recorder, True, None

    def put(self, value) -> None:
        if self.first:  # the prompt, which generate() sends first
            self.first = False
            return
        ids = value.reshape(-1)
        found = self.recorder.of(ids)
        self.rows = self.rows or [[] for _ in found]
        for row, logprob in zip(self.rows, found):
            row.append(logprob)

    def end(self) -> None:
        pass


class _Emitter:
    """A transformers streamer that decodes the growing sequence and emits the new text at each step.

    The whole sequence is decoded each step, so the pieces join to exactly what
    decoding the finished sequence gives (spaces included); a piece that ends
    inside a multi-byte character waits for the next token. With a ``recorder``, each piece is a ``Piece``
    carrying its tokens' ids and log-probabilities.
    """

    def __init__(self, decode: Callable[[list[int]], str], prompt_ids: list[int], emit: Callable[[str], None],
                 recorder: LogprobRecorder | None = None):
        self.decode, self.emit, self.recorder = decode, emit, recorder
        self.ids = list(prompt_ids)
        self.shown = decode(self.ids)
        self.first = True
        self.pending: list[tuple[int, float | None]] = []
        self.logprobs: list[float | None] = []  # every new token's, in order

    def put(self, value) -> None:
        if self.first:  # the prompt, which generate() sends first
            self.first = False
            return
        new = value.reshape(-1)
        found = self.recorder.of(new) if self.recorder is not None else [None] * len(new)
        self.logprobs += found
        self.pending += list(zip(new.tolist(), found))
        self.ids += new.tolist()
        text = self.decode(self.ids)
        if text.endswith("\ufffd"):
            return
        if len(text) > len(self.shown) and text.startswith(self.shown):
            piece = text[len(self.shown) :]
            if self.recorder is not None:
                piece = Piece(piece, [i for i, _ in self.pending], [lp for _, lp in self.pending])
            self.pending = []
            self.emit(piece)
        self.shown = text

    def end(self) -> None:
        pass


def stream_generate(
    generate: Callable[..., Any],
    decode: Callable[[list[int]], str],
    prompt_ids: list[int],
    emit: Callable[[str], None],
    recorder: LogprobRecorder | None = None,
    logprobs: list | None = None,
    **kwargs: Any,
) -> Any:
    """``generate(streamer=..., **kwargs)`` here and now, emitting the new text as it is made; returns
    what ``generate`` returns (``prompt_ids``: the decoder-only prompt; [] for encoder-decoder models).

    Beam search cannot stream (a beam's tokens are not final until the end): then the whole text is
    emitted once, when it is done. ``recorder`` (a ``LogprobRecorder`` among the call's logits processors): the
    pieces are ``Piece``s with their tokens, and ``logprobs`` gets each new token's log-probability.
    """
    config = getattr(getattr(generate, "__self__", None), "generation_config", None)
    if (kwargs.get("num_beams") or getattr(config, "num_beams", 1) or 1) > 1:
        out = generate(**kwargs)
        text, prompt = decode(out[0].tolist()), decode(list(prompt_ids))
        emit(text[len(prompt) :] if text.startswith(prompt) else text)
        return out
    streamer = _Emitter(decode, prompt_ids, emit, recorder)
    out = generate(streamer=streamer, **kwargs)
    if logprobs is not None:  # each new token's log-probability (with a recorder), for the caller
        logprobs.extend(streamer.logprobs)
    return out
