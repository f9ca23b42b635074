"""A real ``modeldeck serve`` in a subprocess on a free loopback port, shared by the server tests."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

import pytest

from tests.serving import launch

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(*args: str, env: dict | None = None, timeout: float = 90) -> Server:
    """``modeldeck serve --port 0 ARGS``; returns once it prints its address."""
    return Server(*launch(["--port", "0", *args], env or dict(os.environ), timeout))


@pytest.fixture(scope="session")
def server(fixture_hub):
    """One server for the whole session, on the fixture hub (tiny random models under the real ids)."""
    started = start_server()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def client_env() -> dict:
    """The environment for InferenceClient: HF_HUB_OFFLINE unset (it refuses loopback too when set);
    the network guard (sitecustomize on PYTHONPATH) still blocks anything but loopback."""
    env = dict(os.environ)
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)
    return env
