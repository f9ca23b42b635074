"""Tokens' label scores grouped into entities, as transformers' TokenClassificationPipeline groups them
(none / simple / first / average / max), with character offsets into the original text. (A helper
module, not a task: token-classification's postprocess.)

Strategies: ``none`` gives each token its best label; ``simple`` joins adjacent tokens of one entity
(B-/I- tags); ``first``, ``average`` and ``max`` first make each word one unit (its first token's
label, the average of its tokens' scores, or its most confident token's label), then join them.
"""

from __future__ import annotations

from typing import Any

STRATEGIES = ("none", "simple", "first", "average", "max")


def pre_entities(text: str, tokens: list[str], ids: list[int], scores: Any, offsets: list, special: list,
                 tokenizer: Any, first_index: int = 0) -> list[dict]:
    """One dict per real token of a window: its text, scores, offsets and whether it continues a word."""
    prefix = getattr(getattr(getattr(tokenizer, "_tokenizer", None), "model", None), "continuing_subword_prefix", None)
    found = []
    for position, token_scores in enumerate(scores):
        if special[position]:
            continue
        word = tokens[position]
        start, end = (int(o) for o in offsets[position])
        piece = text[start:end]
        if prefix:  # a word-aware tokenizer (WordPiece "##"): a token is a continuation when it is marked so
            subword = len(word) != len(piece)
        else:  # transformers' fallback: no space before it
            subword = start > 0 and " " not in text[start - 1 : start + 1]
        if ids[position] == tokenizer.unk_token_id:
            word, subword = piece, False
        found.append({"word": word, "scores": token_scores, "start": start, "end": end,
                      "index": first_index + position, "is_subword": subword})
    return found


def aggregate(pre: list[dict], strategy: str, id2label: dict, tokenizer: Any) -> list[dict]:
    if strategy in ("none", "simple"):
        entities = []
        for p in pre:
            best = int(p["scores"].argmax())
            entities.append({"entity": id2label[best], "score": float(p["scores"][best]), "index": p["index"],
                             "word": p["word"], "start": p["start"], "end": p["end"]})
    else:
        entities = _words(pre, strategy, id2label, tokenizer)
    return entities if strategy == "none" else _group(entities, tokenizer)


def _words(pre: list[dict], strategy: str, id2label: dict, tokenizer: Any) -> list[dict]:
    """Each word (a token and the continuations after it) as one unit with one label."""
    groups: list[list[dict]] = []
    for p in pre:
        if groups and p["is_subword"]:
            groups[-1].append(p)
        else:
            groups.append([p])
    return [_word(group, strategy, id2label, tokenizer) for group in groups]


def _word(group: list[dict], strategy: str, id2label: dict, tokenizer: Any) -> dict:
    import numpy as np

    if strategy == "first":
        scores = group[0]["scores"]
    elif strategy == "max":
        scores = max(group, key=lambda p: p["scores"].max())["scores"]
    else:  # average
        scores = np.nanmean(np.stack([p["scores"] for p in group]), axis=0)
    best = int(scores.argmax())
    return {"entity": id2label[best], "score": float(scores[best]),
            "word": tokenizer.convert_tokens_to_string([p["word"] for p in group]),
            "start": group[0]["start"], "end": group[-1]["end"]}


def _tag(label: str) -> tuple[str, str]:
    """("B" or "I", the entity type) of a label; a label with no B-/I- prefix continues ("I")."""
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


def _group(entities: list[dict], tokenizer: Any) -> list[dict]:
    """Adjacent units of one entity type joined (a B- tag starts a new entity)."""
    groups: list[list[dict]] = []
    for entity in entities:
        bi, tag = _tag(entity["entity"])
        if groups and bi != "B" and _tag(groups[-1][-1]["entity"])[1] == tag:
            groups[-1].append(entity)
        else:
            groups.append([entity])
    return [_joined(group, tokenizer) for group in groups]


def _joined(group: list[dict], tokenizer: Any) -> dict:
    import numpy as np

    return {"entity_group": group[0]["entity"].split("-", 1)[-1],
            "score": float(np.nanmean([e["score"] for e in group])),
            "word": tokenizer.convert_tokens_to_string([e["word"] for e in group]),
            "start": group[0]["start"], "end": group[-1]["end"]}


def drop_overlaps(entities: list[dict]) -> list[dict]:
    """Entities found twice where windows overlap: of those starting inside another, the longer one
    (or, as long, the more confident) is kept."""
    if not entities:
        return entities
    entities = sorted(entities, key=lambda e: e["start"])
    kept, previous = [], entities[0]
    for entity in entities:
        if previous["start"] <= entity["start"] < previous["end"]:
            length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
            if length > previous_length or (length == previous_length and entity["score"] > previous["score"]):
                previous = entity
        else:
            kept.append(previous)
            previous = entity
    kept.append(previous)
    return kept
