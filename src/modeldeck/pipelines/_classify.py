"""What the label classifiers of pictures and sounds share: their parameters, and logits turned into
ranked labels the way transformers' classification pipelines do. (A helper module, not a task.)"""

from __future__ import annotations

from typing import Any

from ..spec import Param

TOP_K = Param("top_k", int, 5, "how many labels to return, best first", min=1, stage="postprocess")
FUNCTION = Param(
    "function_to_apply", str, None,
    "how logits become scores: softmax (they sum to 1), sigmoid (each label on its own) or none (raw logits) "
    "[default: the model's kind: sigmoid for multi-label heads, else softmax]",
    choices=("softmax", "sigmoid", "none"), stage="postprocess",
)


def scores(logits: Any, config: Any, function: str | None) -> Any:
    """The label scores of one item's logits (a 1-D tensor), by ``function`` or, unset, by the model's kind."""
    if function is None:
        if config.problem_type == "regression":
            function = "none"
        elif config.problem_type == "multi_label_classification" or config.num_labels == 1:
            function = "sigmoid"
        else:
            function = "softmax"
    logits = logits.float()
    if function == "softmax":
        return logits.softmax(-1)
    return logits.sigmoid() if function == "sigmoid" else logits


def ranked(scores: Any, config: Any, top_k: int | None) -> list[dict]:
    """[{"label", "score"}], best first, the best ``top_k`` of them (all there are when fewer)."""
    from ..limits import at_most

    rows = sorted(({"label": config.id2label.get(i, str(i)), "score": float(s)} for i, s in enumerate(scores.tolist())),
                  key=lambda r: -r["score"])
    top_k = at_most(top_k, len(rows), "top_k", "labels")
    return rows[:top_k] if top_k else rows
