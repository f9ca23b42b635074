"""Every notebook in notebooks/ runs top to bottom, offline, twice: against the fixture hub (every cell runs),
and with the packaged models only (an empty cache: the cells that need a pull skip with a one-line note, counted
and shown at the end of the test run).

Each runs in a Jupyter kernel on this environment's Python (registered with
`modeldeck kernel install` in a temporary Jupyter folder) that inherits the test
environment: offline, the fixture hub as the cache (or an empty one), the network guard.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds for any one cell; the whole set takes well under 2 minutes

nbformat = pytest.importorskip("nbformat")


def test_there_is_a_notebook_per_topic_in_course_order():
    names = [p.stem for p in NOTEBOOKS]
    assert names == sorted(names) and len(names) >= 5
    for topic in ("text", "speech", "vision", "multimodal", "image-generation", "sharing"):
        assert any(topic in name for name in names), topic


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for n, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {n} has outputs: clear them"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec for this Python, in a Jupyter folder of its own."""
    pytest.importorskip("nbclient")
    from modeldeck.cli import main

    data = tmp_path_factory.mktemp("jupyter")
    before = os.environ.get("JUPYTER_DATA_DIR")
    os.environ["JUPYTER_DATA_DIR"] = str(data)
    assert main(["kernel", "install", "--name", "modeldeck-tests"]) == 0
    yield "modeldeck-tests"
    if before is None:
        os.environ.pop("JUPYTER_DATA_DIR", None)
    else:
        os.environ["JUPYTER_DATA_DIR"] = before


MODES = ("fixture-hub", "packaged-only")


@pytest.fixture(scope="module")
def run_notebook(kernel_name, tmp_path_factory):
    """``run_notebook(path, mode)``: the notebook executed (once per test module and mode), or the failure.
    ``packaged-only``: an empty Hugging Face cache, as on a machine that has never been online."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    done: dict[tuple[Path, str], object] = {}
    empty = tmp_path_factory.mktemp("empty-hub")

    def run(path: Path, mode: str = "fixture-hub"):
        if (path, mode) not in done:
            notebook = nbformat.read(path, as_version=4)
            client = NotebookClient(notebook, kernel_name=kernel_name, timeout=CELL_TIMEOUT,
                                    resources={"metadata": {"path": str(path.parent)}}, allow_errors=False)
            env = dict(os.environ)  # offline, fixture hub, network guard: as the tests
            if mode == "packaged-only":
                env["HF_HUB_CACHE"] = str(empty)
            start = time.monotonic()
            try:
                client.execute(env=env)
                done[path, mode] = notebook
            except CellExecutionError as error:
                plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback without terminal colours
                done[path, mode] = f"{path.name} ({mode}) failed:\n{plain[-3000:]}"
            print(f"{path.name} ({mode}): {time.monotonic() - start:.1f} s on {sys.executable}")
        if isinstance(done[path, mode], str):
            pytest.fail(done[path, mode])
        return done[path, mode]

    return run


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def needs_a_pull(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith("%%needs ")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, mode, run_notebook, record_property):
    from modeldeck.notebook import SKIPPED

    notebook = run_notebook(path, mode)
    codes = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in codes)
    assert not [o for c in codes for o in c.outputs if o.output_type == "error"]
    assert not [c for c in codes if "IProgress not found" in printed(c)]  # ipywidgets draws the progress bars
    skipped = [c for c in codes if printed(c).startswith(SKIPPED)]
    assert all(needs_a_pull(c) for c in skipped)  # only cells that say what they need, with a one-line note
    assert all(len(printed(c).strip().splitlines()) == 1 and "modeldeck pull" in printed(c) for c in skipped)
    if mode == "fixture-hub":
        assert not skipped, [printed(c) for c in skipped]
        shown = [o for c in codes for o in c.outputs if o.output_type in ("execute_result", "display_data")]
        assert shown, f"{path.name} shows nothing"
    else:  # every cell that needs a pull skips; the others (packaged models, plain Python) run
        assert len(skipped) == sum(needs_a_pull(c) for c in codes)
        record_property("notebook_skips", f"{path.name}: {len(skipped)} of {len(codes)} code cells skipped with "
                        f"packaged models only (they need a pull)")


def outputs(notebook) -> list[dict]:
    return [o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.slow
def test_results_show_as_pictures_players_and_tables_in_the_notebooks(run_notebook):
    """What a person sees: a player, timed transcript chunks, pictures, tables of labels."""
    by_name = {p.stem: p for p in NOTEBOOKS}
    speech = [d.get("text/html", "") for d in outputs(run_notebook(by_name["02-speech"]))]
    assert any('<audio controls src="data:audio/wav;base64,' in h for h in speech)
    assert any("<table" in h and "0:" in h for h in speech)  # the transcript's timed chunks
    assert any("<table" in h and "speech" in h for h in speech)  # the audio labels
    vision = outputs(run_notebook(by_name["03-vision"]))
    assert sum("image/png" in d for d in vision) >= 3  # the photo, the drawn boxes, the depth map
    text = outputs(run_notebook(by_name["01-text"]))
    assert any("<table" in d.get("text/html", "") and "<th>rank</th>" in d.get("text/html", "") for d in text)  # similarity
    assert any("<table" in d.get("text/html", "") and "first values" in d.get("text/html", "") for d in text)  # vectors


@pytest.mark.slow
def test_generated_pictures_show_and_the_server_answers_the_clients(run_notebook):
    """Image generation shows its pictures and keeps its seed; the sharing notebook's server answers, then stops."""
    by_name = {p.stem: p for p in NOTEBOOKS}
    notebook = run_notebook(by_name["05-image-generation"])
    generation = outputs(notebook)
    pictures = sum(d.get("text/html", "").count('<img src="data:image/png') for d in generation)
    assert pictures >= 6  # text to image (one, then two), progress, image to image, inpainting, DALL·E Mini
    assert "(True, True)" in [d.get("text/plain") for d in generation]  # same seed, same picture; not another
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "step 3 of 3" in printed  # the progress callback
    sharing = [d.get("text/plain", "") for d in outputs(run_notebook(by_name["06-sharing"]))]
    assert "{'status': 'ok'}" in sharing  # /health
    assert "[(0, " in "".join(sharing)  # embeddings through the openai package
    assert any("POSITIVE" in t for t in sharing)  # the Hugging Face dialect
    assert any(t.startswith("(404,") and "modeldeck pull" in t for t in sharing)
    assert sharing[-1] == "True"  # the server has exited
