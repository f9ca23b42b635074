"""answer: {"answer", "score", "start", "end"}, or a list of them best first (extractive QA)."""

from __future__ import annotations

from typing import Any

from .common import number, table
from .shapes import INTEGER, NUMBER, STRING, array, obj
from .view import OutputView, widget_id

ANSWER = obj({"answer": STRING, "score": NUMBER}, {"start": INTEGER, "end": INTEGER})
SCHEMA = {"anyOf": [ANSWER, array(ANSWER)]}


def text(result: Any, inputs: dict) -> str:
    lines = []
    for a in result if isinstance(result, list) else [result]:
        if "start" in a:  # extractive: where in the context the answer stands
            lines.append(f"{a['answer'] or '(no answer)'}\n  score {number(a['score'])}, "
                         f"characters {a['start']}-{a['end']} of the context")
        else:  # generated (visual question answering)
            lines.append(f"{a['answer']}  ({number(a['score'], 3)})")
    return "\n".join(lines)


def html(result: Any, context: dict) -> str:
    answers = result if isinstance(result, list) else [result]
    rows = [[a.get("answer") or "(no answer)", number(a.get("score", 0)), a.get("start"), a.get("end")]
            for a in answers]
    return table(["answer", "score", "start", "end"], rows)


def widget(spec) -> OutputView:
    import gradio as gr

    box = gr.Textbox(label="Answer", lines=2, buttons=["copy"], elem_id=widget_id(spec, "text"))
    scores = gr.Label(label="Answers and scores", num_top_classes=5, elem_id=widget_id(spec, "labels"))

    def fill(result, inputs):
        answers = result if isinstance(result, list) else [result]
        answers = [a if isinstance(a, dict) else {"answer": str(a)} for a in answers]
        best = answers[0] if answers else {}
        text = str(best.get("answer", "")) or "(no answer)"
        if best.get("start") is not None and best.get("end") is not None:
            text += f"\n(characters {best['start']}-{best['end']} of the context)"
        label = {str(a.get("answer", "")) or "(no answer)": float(a["score"]) for a in answers if a.get("score") is not None}
        return [text, label or None]

    return OutputView("answer", [box, scores], fill)
