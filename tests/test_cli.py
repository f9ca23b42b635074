"""The CLI: generated task commands, readable and JSON output, errors for people."""

import json
import sys

import pytest

from .conftest import run_module


def test_help_and_tasks_do_not_import_torch():
    import subprocess

    code = (
        "import sys; from modeldeck.cli import main; "
        "main(['--help']); main(['tasks']); main(['run', '--help']); main(['run', 'fill-mask', '--help']); "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'numpy') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "feature-extraction" in result.stdout


def test_tasks_table_lists_default_models(cli):
    result = cli("tasks")
    assert result.code == 0
    assert "google-bert/bert-base-uncased" in result.out
    assert "sentence-similarity" in result.out and "->" in result.out
    rows = json.loads(cli("tasks", "--json").out)
    assert {"task", "default_model", "inputs", "output"} <= set(rows[0])


def test_task_help_shows_parameters_and_example(cli):
    result = cli("run", "fill-mask", "--help")
    assert result.code == 0
    assert "--top-k" in result.out and "[MASK]" in result.out


def test_run_json_shapes(cli):
    out = json.loads(cli("run", "fill-mask", "The [MASK] sat.", "--top-k", "2", "--json").out)
    assert len(out) == 2 and set(out[0]) == {"sequence", "score", "token", "token_str"}
    out = json.loads(cli("run", "sentiment-analysis", "Nice!", "--json").out)
    assert set(out[0]) == {"label", "score"}
    out = json.loads(cli("run", "feature-extraction", "one", "two", "--json").out)
    assert len(out) == 2 and isinstance(out[0][0], float)
    out = json.loads(cli("run", "sentence-similarity", "a", "b", "c", "--json").out)
    assert len(out) == 2


def test_readable_output_ranks_sentences(cli):
    result = cli("run", "sentence-similarity", "a cat", "a cat", "stocks fell")
    assert result.code == 0
    first = result.out.splitlines()[0]
    assert first.startswith("+1.0000") and first.endswith("a cat")


def test_output_file(cli, tmp_path):
    target = tmp_path / "out.json"
    assert cli("run", "text-classification", "Nice!", "-o", str(target)).code == 0
    assert json.loads(target.read_text())[0]["label"] in {"POSITIVE", "NEGATIVE"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "sentimnt-analysis", "x"], "Did you mean 'sentiment-analysis'"),
        (["run", "text-classification", ""], "empty"),
        (["run", "text-classification"], "Missing TEXT"),
        (["run", "fill-mask", "no mask here"], "mask token is [MASK]"),
        (["run", "fill-mask", "a [MASK]", "--model", "someone/missing"], "modeldeck pull someone/missing"),
        (["run", "fill-mask", "a [MASK]", "--model", "bad id!"], "not a valid model id"),
        (["run", "sentence-similarity", "only-source"], "Missing SENTENCES"),
    ],
)
def test_bad_input_is_one_clear_line(cli, args, message):
    result = cli(*args)
    assert result.code != 0
    assert message in result.err
    assert "Traceback" not in result.err
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1, "one line"


def test_unknown_command_suggests(cli):
    result = cli("tsks")
    assert result.code == 2 and "tasks" in result.err


def test_debug_shows_traceback():
    result = run_module("--debug", "run", "fill-mask", "no mask")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "mask token is [MASK]" in result.stderr


def test_no_traceback_without_debug():
    result = run_module("run", "fill-mask", "no mask")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_stdin_dash(cli, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Great film"))
    assert json.loads(cli("run", "sentiment-analysis", "-", "--json").out)[0]["label"]


def test_stdin_that_is_not_utf8_is_refused_with_the_position():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "modeldeck", "run", "sentiment-analysis", "-"],
                          input=b"fine text \xff\xfe more", capture_output=True, timeout=120)
    err = done.stderr.decode()
    assert done.returncode == 1 and "not valid text at character 10" in err and "Traceback" not in err
