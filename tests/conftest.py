"""Test setup: offline, against the fixture hub, with the network blocked.

Every test runs with HF_HUB_OFFLINE=1 and the fixture hub (tiny random models
under the real ids, see fixtures/hub.py) as the Hugging Face cache. Any
attempt to reach a non-loopback address, in the test process or in a
subprocess it starts, fails the test and names the address.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
NETGUARD = TESTS / "netguard"
DATA = TESTS / "fixtures" / "data"


def _load_netguard():
    spec = importlib.util.spec_from_file_location("modeldeck_netguard", NETGUARD / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


netguard = _load_netguard()


NOTEBOOK_SKIPS: list[str] = []  # tests/test_notebooks.py: the cells each notebook skips without a pull


def pytest_runtest_logreport(report):
    """Collect the notebook skip counts (a test property, so they reach the summary from xdist workers too)."""
    if report.when == "call":
        NOTEBOOK_SKIPS.extend(value for name, value in report.user_properties if name == "notebook_skips")


# With -n, each test file goes whole to one worker, in order: a file's module-scoped fixtures (servers, UIs,
# the Ray cluster) start once instead of on both workers, and README's examples, which build on each other,
# run as a reader runs them. Files of many quick independent tests are spread over the workers instead.
SPREAD = ("tests/test_bad_input.py::",)
# The longest files start first (seconds on 2 quiet cores, `pytest --durations`): a long file taken last
# leaves one worker running it alone at the end. The rest keep their order; the spread tests fill in last.
LONGEST_FIRST = ("tests/cluster/test_ray.py", "tests/test_readme.py", "tests/test_notebooks.py", "tests/test_dtype.py",
                 "tests/ui/test_browser.py", "tests/test_engine_under_load.py", "tests/server/test_openai.py",
                 "tests/test_fast_cpu.py", "tests/test_engine.py", "tests/tasks/test_image_generation.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        if item.nodeid.startswith(SPREAD):
            return len(LONGEST_FIRST) + 1
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order


@pytest.hookimpl(optionalhook=True)  # without xdist (-p no:xdist) the hook is not there
def pytest_xdist_make_scheduler(config, log):
    """``-n N`` (xdist's ``load``), but by file, except the files in SPREAD (test by test)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # xdist's own order (most tests first) would undo LONGEST_FIRST

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith(SPREAD) else nodeid.split("::", 1)[0]

    return ByFile(config, log)


def pytest_terminal_summary(terminalreporter):
    if NOTEBOOK_SKIPS:
        terminalreporter.write_sep("-", "notebooks with packaged models only")
        for line in sorted(NOTEBOOK_SKIPS):
            terminalreporter.write_line(line)


def pytest_configure(config):
    state = Path(tempfile.mkdtemp(prefix="modeldeck-tests-"))
    from tests.fixtures.hub import DEFAULT_ROOT

    os.environ.update(
        {
            "MODELDECK_NETGUARD": "1",
            "MODELDECK_NETGUARD_LOG": str(state / "netguard.log"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(NETGUARD), os.environ.get("PYTHONPATH")])),
            "HF_HUB_OFFLINE": "1",
            "MODELDECK_OFFLINE": "1",
            "HF_HUB_CACHE": str(DEFAULT_ROOT),
            "HF_HOME": str(state / "hf-home"),
            "MODELDECK_HOME": str(state / "modeldeck-home"),
            "MODELDECK_DEVICE": "cpu",
            # The suite's exact-agreement checks (batched vs alone within 1e-5, ONNX vs torch) are fp32 ones;
            # tests/test_dtype.py covers auto's choice and bf16 (with their own floors).
            "MODELDECK_DTYPE": "fp32",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    netguard.install()


@pytest.fixture(scope="session", autouse=True)
def fixture_hub() -> Path:
    """The fixture hub, built once and reused across runs (rebuilt when a builder changes)."""
    from tests.fixtures.hub import build_hub

    return build_hub(Path(os.environ["HF_HUB_CACHE"]))


@pytest.fixture(autouse=True)
def no_network():
    """Fail the test if it (or a subprocess) tried to reach the network."""
    log = Path(os.environ["MODELDECK_NETGUARD_LOG"])
    before = log.read_text() if log.exists() else ""
    yield
    after = log.read_text() if log.exists() else ""
    if after != before:
        log.write_text(before)
        pytest.fail("Tests must not use the network; this one tried: " + after[len(before) :].strip().replace("\n", "; "))


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache: only packaged models are available."""
    from modeldeck import pool

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(pool, "default_pool", pool.Pool())  # models loaded from the fixture hub stay there
    return cache


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run the real CLI entry point in-process: ``cli("run", "fill-mask", ...)``."""
    from modeldeck.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


def run_module(*args: str, env: dict | None = None, timeout: float = 300, input: str | None = None):
    """Run ``python -m modeldeck ARGS`` in a subprocess (network still guarded)."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "modeldeck", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
        input=input,
    )


def hold_forward(monkeypatch, task_class):
    """Make ``task_class``'s forward passes wait until ``release`` is set (``entered`` is set when one
    starts): a model that is busy for as long as a test needs. Load the model after this (its engine
    keeps the forward it started with)."""
    import threading

    entered, release = threading.Event(), threading.Event()
    original = task_class.forward

    def held(self, batch, **params):
        entered.set()
        release.wait(30)
        return original(self, batch, **params)

    monkeypatch.setattr(task_class, "forward", held)
    return entered, release
