"""A running `modeldeck ui` (subprocess, 127.0.0.1, fixture hub) and a headless chromium page.

The server inherits the test environment (offline, fixture hub, network guard
via PYTHONPATH). A failing browser test leaves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 120, process: subprocess.Popen | None = None) -> float:
    """Seconds until ``url`` answers 200; fails if the process dies first."""
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out or ""


@pytest.fixture(scope="session")
def ui_server_and_log(tmp_path_factory):
    """`python -m modeldeck ui --port N`, its output going to a log file: yields (address, log path)."""
    port = free_port()
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "modeldeck", "ui", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    address = None
    deadline = time.monotonic() + 120
    while address is None and time.monotonic() < deadline:
        found = re.search(r"modeldeck UI: (http://\S+)", log.read_text())
        address = found.group(1) if found else None
        if address is None and process.poll() is not None:
            raise AssertionError(f"modeldeck ui exited with {process.returncode}: {log.read_text()}")
        time.sleep(0.2)
    assert address == f"http://127.0.0.1:{port}/", (address, log.read_text())
    wait_http(address, process=process)
    yield address, log
    stop(process)


@pytest.fixture(scope="session")
def ui_server(ui_server_and_log):
    """The address of a running `modeldeck ui`."""
    return ui_server_and_log[0]


@pytest.fixture
def ui_log(ui_server_and_log):
    """``ui_log()``: what the UI server has logged since this test began."""
    log = ui_server_and_log[1]
    start = log.stat().st_size

    def since() -> str:
        with log.open("rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    return since


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, ui_server, request):
    """A fresh page on the UI; only 127.0.0.1 is reachable from it. Screenshot on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    blocked = []

    def local_only(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            return route.continue_()
        blocked.append(url)
        return route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(ui_server)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    """A UI with the chat tab whose runner records each conversation it is sent: (address, record file)."""
    record = tmp_path_factory.mktemp("chat") / "sent.jsonl"
    record.touch()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.chat_server", str(port), str(record)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
        cwd=Path(__file__).parents[2],
    )
    address = f"http://127.0.0.1:{port}/"
    wait_http(address, process=process)
    yield address, record
    stop(process)


@pytest.fixture
def open_page(browser, request):
    """``open_page(address)``: a fresh browser session (its own cookies and storage) on ``address``."""
    contexts = []

    def open_one(address: str):
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("http://127.0.0.1", "data:", "blob:")) else route.abort())
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(address)
        return page

    yield open_one
    report = getattr(request.node, "report_call", None)
    for n, context in enumerate(contexts):
        if report is not None and report.failed and context.pages:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            context.pages[0].screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}.png"), full_page=True)
        context.close()
