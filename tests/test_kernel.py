"""`modeldeck kernel install` registers this environment's Python; environment.yml matches the project's setup."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_kernel_install_writes_a_kernelspec_running_this_python(cli, tmp_path, monkeypatch):
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    result = cli("kernel", "install", "--name", "Course-Env")
    assert result.code == 0, result.err
    spec = json.loads((tmp_path / "jupyter" / "kernels" / "course-env" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and "ipykernel_launcher" in spec["argv"]
    assert spec["display_name"] == "Python (course-env)" and spec["language"] == "python"
    assert sys.executable in result.out  # says which Python it registered

    from jupyter_client.kernelspec import KernelSpecManager

    assert "course-env" in KernelSpecManager().find_kernel_specs()  # Jupyter finds it


def test_kernel_install_refuses_a_name_jupyter_cannot_use(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    result = cli("kernel", "install", "--name", "my env/1")
    assert result.code != 0 and "not a kernel name" in result.err
    assert not (tmp_path / "jupyter").exists()


def test_kernel_help_names_the_command(cli):
    result = cli("kernel", "install", "--help")
    assert result.code == 0 and "--name" in result.out and "Jupyter" in result.out


def extras_installed_by_make() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    found = re.search(r"pip install[^\n]*-c constraints\.txt -e '\.\[([\w,-]+)\]'", makefile)
    assert found, "the Makefile's pip install line moved: update this test"
    return set(found.group(1).split(","))


def test_environment_yml_installs_what_the_project_setup_installs():
    import tomllib

    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] and env["channels"][0] == "conda-forge"
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda and "pip" in conda and "ipykernel" in conda
    torch = next(d for d in conda if d.startswith("pytorch"))
    assert "cpu" in torch  # the CPU build
    assert "-c constraints.txt" in pip  # the same pinned versions as `make install`
    editable = next(line for line in pip if line.startswith("-e ."))
    extras = set(re.fullmatch(r"-e \.\[([\w,-]+)\]", editable).group(1).split(","))
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras <= set(declared) and "notebooks" in extras
    assert extras_installed_by_make() - {"test"} <= extras  # the extras `make install` adds, less the test tools
    assert {"ipykernel", "nbclient"} <= {re.split(r"[<>=]", r)[0] for r in declared["notebooks"]}
    assert {"ipykernel", "nbclient"} <= {re.split(r"[<>=]", r)[0] for r in declared["test"]}
