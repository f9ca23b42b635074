"""scores: [float], one per candidate in the order given (sentence similarity). Its table also shows
any list of dicts with a "score" (rankings), best first."""

from __future__ import annotations

from typing import Any

from .common import first_list, name_of, number, table
from .shapes import NUMBER, array
from .view import OutputView, frame, shown, widget_id

SCHEMA = array(NUMBER)


def text(result: list[float], inputs: dict) -> str:
    candidates = first_list(inputs, [""] * len(result))
    ranked = sorted(zip(result, candidates), key=lambda pair: -pair[0])
    return "\n".join(f"{number(score, sign=True)}  {text}" for score, text in ranked)


def context(inputs: dict) -> dict:
    names = first_list(inputs)
    return {} if names is None else {"names": [name_of(v) for v in names]}


def ranked(result: Any, names: list | None) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows best first, the score last: dicts' fields, or a candidate's name per float."""
    if result and isinstance(result[0], dict):
        columns = [k for k in result[0] if k != "score"] + ["score"]
        rows = [[r.get(c) for c in columns[:-1]] + [float(r["score"])] for r in result]
    else:
        columns = ["candidate", "score"]
        names = names or [f"#{n + 1}" for n in range(len(result))]
        rows = [[name, float(s)] for name, s in zip(names, result)]
    rows.sort(key=lambda row: -row[-1])
    return columns, rows


def html(result: Any, context: dict) -> str:
    columns, rows = ranked(result, context.get("names"))
    cells = [[n + 1, *(name_of(v) for v in row[:-1]), number(row[-1])] for n, row in enumerate(rows)]
    return table(["rank", *columns], cells)


def scores_table(result: Any, inputs: dict[str, Any]):
    """Scores, best first: a float per candidate, or dicts with a "score"."""
    columns, rows = ranked(result, first_list(inputs))
    return frame(columns, [[*(shown(v) for v in row[:-1]), round(row[-1], 4)] for row in rows])


def widget(spec) -> OutputView:
    import gradio as gr

    table = gr.Dataframe(label="Scores", interactive=False, wrap=True, elem_id=widget_id(spec, "scores"))
    return OutputView("scores", [table], lambda result, inputs: [scores_table(result, inputs)])
