"""`modeldeck space export`: a valid Space folder that starts with `python app.py` and answers HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

import pytest

from .conftest import free_port, stop, wait_http

pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from modeldeck.cli import main

    out = tmp_path_factory.mktemp("space") / "similarity"
    assert main(["space", "export", "sentence-similarity", "sentiment-analysis", "--out", str(out)]) == 0
    return out


def test_files_and_front_matter(space):
    import gradio
    from huggingface_hub import SpaceCard

    assert {p.name for p in space.iterdir()} >= {"README.md", "app.py", "requirements.txt", "modeldeck"}
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "gradio" and card.data.sdk_version == gradio.__version__
    assert card.data.app_file == "app.py"
    assert "sentence-transformers/all-MiniLM-L6-v2" in card.data.models
    assert (space / "modeldeck" / "ui" / "examples" / "cats.jpg").is_file()  # the copy carries its media


def test_requirements_are_pinned_to_installed_versions(space):
    lines = [line for line in (space / "requirements.txt").read_text().splitlines() if line.strip()]
    pins = dict(line.split("==") for line in lines)
    assert len(pins) == len(lines)  # every line pinned
    for name in ("gradio", "torch", "transformers", "sentence-transformers"):
        assert pins[name] == metadata.version(name).split("+")[0]
    assert "spaces" not in pins and "pytest" not in pins


def test_exported_space_starts_and_answers_http(space):
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=space, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process=process)
    finally:
        output = stop(process)
    assert "Traceback" not in output


def test_gpu_work_wrapped_in_spaces_gpu_only_when_spaces_is_importable(space, tmp_path):
    fake = tmp_path / "fake" / "spaces"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "wrapped = []\n"
        "def GPU(fn):\n"
        "    wrapped.append(fn.__name__)\n"
        "    return fn\n"
    )
    probe = "import app, sys; m = sys.modules.get('spaces'); print(sorted(m.wrapped) if m else 'no spaces')"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")]))
    with_spaces = subprocess.run([sys.executable, "-c", probe], cwd=space, env=env, capture_output=True, text=True)
    assert with_spaces.returncode == 0, with_spaces.stderr[-2000:]
    assert with_spaces.stdout.split("\n")[-2] == "['run_sentence_similarity', 'run_text_classification']"
    without = subprocess.run([sys.executable, "-c", probe], cwd=space, capture_output=True, text=True)
    assert without.returncode == 0 and without.stdout.strip().endswith("no spaces")


def test_export_errors_are_readable(cli, space):
    result = cli("space", "export", "no-such-task", "--out", str(space.parent / "x"))
    assert result.code == 1 and "Unknown task" in result.err
    result = cli("space", "export", "fill-mask", "--out", str(space))
    assert result.code == 1 and "not empty" in result.err and "--force" in result.err


def test_comma_separated_tasks_and_apt_packages_for_speech(cli, space, tmp_path):
    assert not (space / "packages.txt").exists()  # nothing to apt-install for text tasks
    out = tmp_path / "speech"
    result = cli("space", "export", "chat, text-to-speech", "--out", str(out))
    assert result.code == 0, result.err
    assert "TASKS = ['chat', 'text-to-speech']" in (out / "app.py").read_text()
    assert (out / "packages.txt").read_text().split() == ["espeak-ng"]  # phonemizer (VITS) needs it
    assert "share=False" in (out / "app.py").read_text()
