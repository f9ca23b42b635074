"""The output kinds of the new tasks on every surface: terminal text, notebook display, the UI's widgets
(entities marked in the text, a ranked table, labelled masks)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

import modeldeck
from modeldeck.outputs import notebook as display
from modeldeck.outputs import output_view
from modeldeck.outputs import to_text as render

CATS = str(Path(__file__).parent / "fixtures" / "data" / "coco-000000039769-cats.png")
TEXT = "My name is Wolfgang & I live in <Berlin>."


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", html, re.S)]


def test_entities_in_the_terminal_the_notebook_and_the_ui():
    inputs = {"text": TEXT}
    result = modeldeck.run("ner", TEXT, aggregation_strategy="first", ignore_labels=[])
    lines = render("entities", result, inputs).splitlines()
    assert len(lines) == len(result) and all(r["word"] in line for r, line in zip(result, lines))
    assert render("entities", [], inputs) == "No entities found."
    html = display.wrap("entities", result, inputs)._repr_html_()
    assert html.count("<mark") == len(result) and "&lt;" in html and "<Berlin>" not in html  # escaped
    import html as markup

    assert [markup.unescape(c) for c in cells(html)][1::5] == [r["word"] for r in result]
    from modeldeck.pipelines import get_task

    marked, table = output_view(get_task("ner").spec).fill(result, inputs)
    assert marked["text"] == TEXT and [(s["start"], s["end"]) for s in marked["entities"]] == [
        (r["start"], r["end"]) for r in result]
    assert list(table["word"]) == [r["word"] for r in result]


def test_a_ranking_in_the_terminal_the_notebook_and_the_ui():
    documents = ["Berlin has 3.5 million people.", "New York is big.", "Paris is in France."]
    inputs = {"query": "How many people live in Berlin?", "documents": documents}
    result = modeldeck.run("rerank", inputs)
    lines = render("ranking", result, inputs).splitlines()
    assert [line.split("  ", 2)[2] for line in lines] == [r["text"] for r in result]
    found = cells(display.wrap("ranking", result, inputs)._repr_html_())
    assert found[:4] == ["1", str(result[0]["index"]), result[0]["text"], f"{result[0]['score']:.4f}"]
    from modeldeck.pipelines import get_task

    (table,) = output_view(get_task("rerank").spec).fill(result, inputs)
    assert list(table["text"]) == [r["text"] for r in result] and list(table.columns) == ["index", "text", "score"]


def test_labelled_masks_name_their_labels_in_the_notebook_and_the_ui():
    picture = Image.open(CATS).convert("RGB")
    result = modeldeck.run("image-segmentation", CATS)
    shown = display.wrap("masks", result, {"image": picture})
    import io

    assert Image.open(io.BytesIO(shown._repr_png_())).size == picture.size
    assert cells(shown._repr_html_())[0::3] == [r["label"] for r in result]
    from modeldeck.pipelines import get_task

    update, table = output_view(get_task("image-segmentation").spec).fill(result, {"image": picture})
    value = update.get("value", update) if isinstance(update, dict) else update  # (a gr.update today)
    names = [name for _, name in value[1]]
    assert all(name.startswith(r["label"]) for name, r in zip(names, result))
    assert list(table["mask"]) == [r["label"] for r in result]
    masks = [np.asarray(r["mask"]) for r in result]
    assert all(m.shape == (picture.height, picture.width) for m in masks)
