"""The web UI in a real browser (headless Debian chromium driven by Playwright)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from modeldeck.pipelines import registry

DATA = Path(__file__).parents[1] / "fixtures" / "data"


def open_tab(page, modality: str, task: str) -> None:
    page.locator(f"#modality-{modality}-button, button[role=tab]:has-text('{modality.capitalize()}')").first.click()
    page.get_by_role("tab", name=task, exact=True).click()


def table_cells(page, elem_id: str) -> list[str]:
    return [t.strip() for t in page.locator(f"#{elem_id} [role=gridcell]").all_inner_texts() if t.strip()]


def wait_cells(page, elem_id: str, contains: str = "", timeout: float = 120) -> list[str]:
    """The table's non-empty cells once one of them contains ``contains``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cells = table_cells(page, elem_id)
        if cells and any(contains in c for c in cells):
            return cells
        page.wait_for_timeout(200)
    raise AssertionError(f"#{elem_id} shows no cell with {contains!r}: {table_cells(page, elem_id)}")


def test_sentence_similarity_scores_in_page(page):
    open_tab(page, "text", "sentence-similarity")
    page.locator("#sentence-similarity-in-source-sentence textarea").fill("A cat sits on the mat.")
    page.locator("#sentence-similarity-in-sentences textarea").fill(
        "Stocks fell sharply today.\nA cat sits on the mat.\nThe train is late."
    )
    page.locator("#sentence-similarity-run").click()
    cells = wait_cells(page, "sentence-similarity-out-scores", "Stocks fell")
    rows = dict(zip(cells[0::2], (float(v) for v in cells[1::2])))
    assert set(rows) == {"Stocks fell sharply today.", "A cat sits on the mat.", "The train is late."}
    assert all(-1.0 <= s <= 1.0001 for s in rows.values())
    assert cells[0] == "A cat sits on the mat." and rows[cells[0]] == pytest.approx(1.0, abs=1e-3)  # ranked first
    assert list(rows.values()) == sorted(rows.values(), reverse=True)


def test_error_is_a_message_and_the_page_keeps_working(page):
    open_tab(page, "text", "fill-mask")
    page.locator("#fill-mask-in-text textarea").fill("There is no mask token here.")
    page.locator("#fill-mask-run").click()
    toast = page.locator(".toast-body").first
    toast.wait_for()
    text = toast.inner_text()
    assert "no mask token" in text and "[MASK]" in text
    assert "Traceback" not in page.content()
    page.locator("#fill-mask-in-text textarea").fill("Paris is the [MASK] of France.")
    page.locator("#fill-mask-run").click()
    assert wait_cells(page, "fill-mask-out-table", "paris is the")


def test_text_to_speech_gives_playable_audio(page):
    import soundfile

    spec = registry()["text-to-speech"].spec
    text_input = next(i for i in spec.inputs if i.kind == "text")
    open_tab(page, spec.modality, "text-to-speech")
    page.locator(f"#text-to-speech-in-{text_input.name.replace('_', '-')} textarea").fill("Hello from modeldeck.")
    page.locator("#text-to-speech-run").click()
    link = page.locator("#text-to-speech-out-audio a[download]")
    link.wait_for()
    response = page.request.get(link.get_attribute("href"))
    assert response.ok
    audio, rate = soundfile.read(io.BytesIO(response.body()))
    assert rate > 0 and len(audio) / rate > 0.3  # decodable WAV with some speech in it
    assert abs(audio).max() > 0
    page.wait_for_function(  # the player loaded it and knows its length
        "() => { const d = document.querySelector('#text-to-speech-out-audio #duration');"
        " return d && d.innerText && d.innerText !== '0:00'; }"
    )


def test_object_detection_upload_gives_annotated_image(page):
    spec = registry()["object-detection"].spec
    image_input = next(i for i in spec.inputs if i.kind == "image")
    open_tab(page, spec.modality, "object-detection")
    page.locator(f"#object-detection-in-{image_input.name.replace('_', '-')} input[type=file]").set_input_files(
        str(DATA / "coco-000000039769-cats.png")
    )
    page.locator(f"#object-detection-in-{image_input.name.replace('_', '-')} img").wait_for()
    page.locator("#object-detection-param-threshold input").fill("0")  # random fixture weights score low: every box
    page.locator("#object-detection-run").click()
    base = page.locator("#object-detection-out-annotated img.base-image")
    base.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", base.element_handle()) == 640
    page.locator("#object-detection-out-annotated img.mask").first.wait_for()
    assert page.locator("#object-detection-out-annotated .legend-item").count() >= 1
    cells = wait_cells(page, "object-detection-out-table")
    assert len(cells) >= 6 and float(cells[1]) >= 0


def test_clicking_the_image_places_sam_points(page):
    spec = registry()["mask-generation"].spec
    open_tab(page, spec.modality, "mask-generation")
    page.locator("#mask-generation-in-image input[type=file]").set_input_files(str(DATA / "coco-000000039769-cats.png"))
    picture = page.locator("#mask-generation-in-image img").first
    picture.wait_for()
    box = picture.bounding_box()
    picture.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.5})
    points = page.locator("#mask-generation-param-points input, #mask-generation-param-points textarea").first
    page.wait_for_function(
        "(el) => /^\\d+,\\d+$/.test(el.value)", arg=points.element_handle()
    )
    x, y = (int(v) for v in points.input_value().split(","))
    assert abs(x - 160) <= 8 and abs(y - 240) <= 8  # image pixels, not screen pixels
    page.locator("#mask-generation-run").click()
    page.locator("#mask-generation-out-annotated img.mask").first.wait_for()
    cells = wait_cells(page, "mask-generation-out-table")
    assert len(cells) >= 2 and 0 <= float(cells[1]) <= 1


def chat_rows(page) -> list[tuple[str, str]]:
    """The chat window's messages, in order: ("user" | "bot", text)."""
    rows = page.locator("#chat-out-chatbot .message-row")
    out = []
    for n in range(rows.count()):
        row = rows.nth(n)
        role = "user" if "user-row" in (row.get_attribute("class") or "") else "bot"
        out.append((role, row.inner_text().strip()))
    return out


def sent(record: Path) -> list[list[dict]]:
    import json

    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def words(text: str) -> str:
    import re

    return re.sub(r"\W", "", text)  # the window renders markdown: compare the words only


def say(page, record: Path, text: str, timeout: float = 120) -> list[tuple[str, str]]:
    """Send ``text`` in the chat window; wait for the reply to finish; the window's messages."""
    calls = len(sent(record))
    before = len(chat_rows(page))
    page.locator("#chat-in-message textarea").fill(text)
    page.locator("#chat-run").click()
    deadline, last, stable_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        rows = chat_rows(page)
        if rows != last:
            last, stable_since = rows, time.monotonic()
        done = len(rows) == before + 2 and rows[-1][0] == "bot" and rows[-1][1] and len(sent(record)) == calls + 1
        if done and time.monotonic() - stable_since > 1.5:  # the streamed reply stopped growing
            return rows
        page.wait_for_timeout(200)
    raise AssertionError(f"no finished reply to {text!r}: {chat_rows(page)}")


def test_chat_window_keeps_each_sessions_conversation_and_sends_it_back(open_page, chat_server):
    address, record = chat_server
    ann = open_page(address)
    messages = ["Hello there!", "Do you like cats?", "Tell me more."]
    for n, text in enumerate(messages):
        rows = say(ann, record, text)
        assert [r for r, _ in rows] == ["user", "bot"] * (n + 1)
        assert [t for r, t in rows if r == "user"] == messages[: n + 1]  # every turn stays in the window
        conversation = sent(record)[-1]
        assert [t["role"] for t in conversation] == ["user", "assistant"] * n + ["user"]
        assert [t["content"] for t in conversation if t["role"] == "user"] == messages[: n + 1]
        shown_replies = [words(t) for r, t in rows[:-1] if r == "bot"]
        assert [words(t["content"]) for t in conversation if t["role"] == "assistant"] == shown_replies

    bob = open_page(address)  # another browser session: its own, empty conversation
    assert chat_rows(bob) == []
    rows = say(bob, record, "Hi, I am Bob.")
    assert [t for r, t in rows if r == "user"] == ["Hi, I am Bob."]
    assert sent(record)[-1] == [{"role": "user", "content": "Hi, I am Bob."}]  # none of Ann's turns
    assert [t for r, t in chat_rows(ann) if r == "user"] == messages  # Ann's window is untouched

    ann.locator("#chat-clear").click()
    ann.wait_for_function("() => document.querySelectorAll('#chat-out-chatbot .message-row').length === 0")
    say(ann, record, "Starting over.")
    assert sent(record)[-1] == [{"role": "user", "content": "Starting over."}]  # clear emptied the history


def test_a_text_file_named_png_gets_modeldecks_message_and_no_traceback(page, ui_log, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("These are my meeting notes, not a picture.\n")
    open_tab(page, "vision", "object-detection")
    widget = "#object-detection-in-image"
    page.locator(f"{widget} input[type=file]").set_input_files(str(fake))
    page.locator(f"{widget} img").wait_for(state="attached")  # uploaded (the browser cannot draw it)
    page.locator("#object-detection-run").click()
    toast = page.locator(".toast-body").first
    toast.wait_for()
    text = toast.inner_text()
    assert "'notes.png' is text, not an image" in text and "Give a PNG" in text  # the CLI's words
    assert "preprocess" not in page.content() and "Traceback" not in page.content()
    page.wait_for_timeout(500)  # the server has finished with the request
    log = ui_log()
    assert "Traceback" not in log and "preprocess" not in log, log[-3000:]
