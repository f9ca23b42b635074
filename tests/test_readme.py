"""README's examples run as written: every shell and Python block that can run offline (against the fixture hub,
in a folder holding the files the examples name), in README order, each command exiting 0. The others are marked
in README.md just before their block, with the reason, as ``<!-- readme-test: skip (REASON) -->``: they download,
start a long-running server (the server and UI tests run those), need a Ray cluster, or install software.

Shell lines run in this process through the CLI's entry point (a fresh process per line would take minutes), with
``VAR=value`` prefixes, ``"$(cat FILE)"`` and ``\\`` continuations done as a shell would; ``curl`` runs for real.
Examples that talk to a running server or UI at its usual address (127.0.0.1:8000, 127.0.0.1:7860) get the
address of the one the test started. Prompts are answered "y".
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA

# One worker runs this file whole, in README order (tests/conftest.py): the blocks build on each other
# (one namespace, one folder, one server), as in a reader's session.

README = Path(__file__).parents[1] / "README.md"
SHELL, PYTHON = {"", "bash", "sh", "shell", "console"}, {"python", "py"}
REASONS = {"needs a download", "installs software", "starts a server", "needs a Ray cluster"}
MARK = re.compile(r"<!-- readme-test: skip \((.+?)\) -->")


@dataclass
class Block:
    line: int  # where its fence is in README.md
    lang: str
    text: str
    skip: str | None  # the README's reason for not running it

    @property
    def id(self) -> str:
        return f"line-{self.line}"


def blocks() -> list[Block]:
    found, lines = [], README.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.search(before)
        found.append(Block(i + 1, fence.group(1).lower(), "\n".join(lines[i + 1 : end]), mark.group(1) if mark else None))
        i = end + 1
    return [b for b in found if b.lang in SHELL | PYTHON]


BLOCKS = blocks()
RUN = [b for b in BLOCKS if b.skip is None]


def test_every_block_runs_or_the_readme_says_why_not():
    assert len(RUN) >= 15
    for block in BLOCKS:
        if block.skip is not None:
            assert any(block.skip.startswith(reason) for reason in REASONS), (block.line, block.skip)
    skipped = [b for b in BLOCKS if b.skip]
    assert all("modeldeck pull" not in b.text for b in RUN if b.lang in SHELL)  # downloads are marked
    assert {b.skip.split(":")[0] for b in skipped} <= REASONS


# -- the machine the examples expect ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with the files the examples name (stand-ins made from the test media)."""
    import numpy as np
    import soundfile
    from PIL import Image, ImageDraw

    folder = tmp_path_factory.mktemp("readme")
    cats = Image.open(DATA / "coco-000000039769-cats.png").convert("RGB")
    cats.save(folder / "cats.png")
    for name in ("cats.jpg", "a.jpg"):
        cats.save(folder / name)
    small = cats.resize((320, 240))  # the photos that image generation redraws: a quarter of the work at this size
    for name in ("room.jpg", "photo.jpg"):
        small.save(folder / name)
    cats.transpose(Image.FLIP_LEFT_RIGHT).save(folder / "b.jpg")
    cats.crop((0, 0, 320, 240)).save(folder / "c.jpg")
    mask = Image.new("L", small.size, 0)
    ImageDraw.Draw(mask).rectangle((80, 60, 240, 180), fill=255)
    mask.save(folder / "mask.png")
    audio, rate = soundfile.read(DATA / "jfk.flac", dtype="float32")
    shutil.copy(DATA / "jfk.flac", folder / "talk.flac")
    soundfile.write(folder / "talk.wav", audio, rate)
    soundfile.write(folder / "talk.mp3", audio, rate, format="MP3")
    soundfile.write(folder / "interview.ogg", audio, rate, format="OGG")
    noise = np.random.default_rng(0).normal(0, 0.1, rate * 2).astype("float32")
    soundfile.write(folder / "dog.wav", noise, rate)
    (folder / "article.txt").write_text(
        "The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in "
        "Paris. Its base is square, measuring 125 metres on each side. During its construction, the Eiffel Tower "
        "surpassed the Washington Monument to become the tallest man-made structure in the world.\n")
    return folder


@pytest.fixture(scope="module")
def server(fixture_hub):
    """A running modeldeck serve (what the HTTP examples and modeldeck ps / stop talk to), gpt2 loaded."""
    import httpx

    from tests.server.conftest import start_server

    started = start_server()
    answer = httpx.post(f"{started.url}/models/gpt2", json={"inputs": "Hi", "parameters": {"max_new_tokens": 1}},
                        timeout=120)
    assert answer.status_code == 200, answer.text
    yield started.url
    started.stop()


@pytest.fixture(scope="module")
def ui_url():
    """A running web UI (what the gradio_client example talks to)."""
    from modeldeck.ui.app import build_app, launch

    app = build_app(["text-generation", "object-detection", "chat"])
    url = launch(app)
    yield url
    app.close()


@pytest.fixture(scope="module")
def own_cache(fixture_hub, tmp_path_factory) -> Path:
    """A copy of the fixture hub (files hard-linked) for examples that remove models."""
    copy = tmp_path_factory.mktemp("hub-copy") / "hub"
    shutil.copytree(fixture_hub, copy, symlinks=True, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".lock", ".locks", ".staging-*"))
    return copy


def addresses(text: str, server: str, ui: str | None = None) -> str:
    text = re.sub(r"(http://)?(localhost|127\.0\.0\.1):8000", server, text)
    return re.sub(r"http://127\.0\.0\.1:7860/?", ui, text) if ui else text


# -- shell ------------------------------------------------------------------------------------------


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        lines.append(current)
        current = ""
    return [line for line in lines + [current] if line.strip()]


def run_shell_line(line: str, server: str, monkeypatch, capsys) -> None:
    from modeldeck.cli import main

    line = re.sub(r'"\$\(cat ([^)]+)\)"', lambda m: shlex.quote(Path(m.group(1)).read_text()), line)
    words = shlex.split(line, comments=True)
    if not words:
        return
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    command, args = words[0], words[1:]
    if command == "curl":
        done = subprocess.run(["curl", "--fail-with-body", *[addresses(a, server) for a in args]],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        return
    assert command == "modeldeck", f"the test runs modeldeck and curl lines; mark this block: {line}"
    assert args[:1] not in (["serve"], ["ui"]), f"a server runs until stopped; mark this block: {line}"
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setattr("sys.stdin", io.StringIO("y\n"))
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
    assert code == 0, f"{line}\nexit {code}\n{out[-2000:]}\n{err[-2000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in RUN if b.lang in SHELL], ids=lambda b: b.id)
def test_shell_block_runs_as_written(block, workdir, server, own_cache, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("MODELDECK_URL", server)  # modeldeck ps / stop: the running server
    if "modeldeck rm " in block.text:
        monkeypatch.setenv("HF_HUB_CACHE", str(own_cache))  # what it removes is the copy's
    for line in logical_lines(block.text):
        run_shell_line(line, server, monkeypatch, capsys)


# -- Python -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def namespace() -> dict:
    """One namespace for the Python blocks, in README order: as a reader's session (later blocks use modeldeck
    imported by earlier ones)."""
    return {"__name__": "__readme__"}


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in RUN if b.lang in PYTHON], ids=lambda b: b.id)
def test_python_block_runs_as_written(block, workdir, server, namespace, monkeypatch, request):
    monkeypatch.chdir(workdir)
    if ":8000" in block.text:  # a client of the HTTP server: InferenceClient refuses every URL when
        env = dict(os.environ)  # HF_HUB_OFFLINE is set at its import, so it runs in a process without it
        env.pop("HF_HUB_OFFLINE", None)
        done = subprocess.run([sys.executable, "-c", addresses(block.text, server)], capture_output=True, text=True,
                              env=env, cwd=workdir, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return
    code = block.text
    if ":7860" in code:
        code = addresses(code, server, request.getfixturevalue("ui_url"))
    exec(compile(code, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102 - README's own examples
