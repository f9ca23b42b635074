"""A real two-node Ray cluster on one machine (head + worker via ``ray start``, 1 CPU each), on loopback only.

Meant to run inside its own network namespace (``unshare -n``, only ``lo`` up),
so no Ray process can reach any other address. Used by the cluster test's
scenario and by bench/cluster.py. Always stopped with ``ray stop --force``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.serving import launch

ROOT = Path(__file__).resolve().parents[2]
OBJECT_STORE = str(200 * 1024 * 1024)
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def in_namespace_command(script: Path, *args: str) -> list[str]:
    """The command running ``script`` in a new network namespace with only loopback up."""
    inner = " ".join(["ip link set lo up && exec", sys.executable, str(script), *args])
    return ["unshare", "-n", "--", "bash", "-c", inner]


def namespace_allowed() -> str | None:
    """None when ``unshare -n`` and ``ip`` work here, else why not (the reason a test is skipped)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare (util-linux) and ip (iproute2)"
    done = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"], check=False, capture_output=True,
                          text=True)
    if done.returncode != 0:
        return f"unshare -n is not permitted here ({done.stderr.strip() or done.returncode})"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_env(cache: Path) -> dict:
    """The environment for Ray and modeldeck: offline, an empty HF cache (packaged real models), no stats."""
    env = dict(os.environ)
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
                "MODELDECK_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_NODE_IP_ADDRESS": "127.0.0.1",
                "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))})
    env.pop("RAY_ADDRESS", None)
    return env


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class Cluster:
    address: str
    env: dict
    log: list[str] = field(default_factory=list)

    def ray(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([ray_bin(), *args], check=False, env=self.env, capture_output=True, text=True, timeout=timeout)
        self.log.append(f"$ ray {' '.join(args)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        if done.returncode != 0:
            raise RuntimeError(f"ray {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout


@contextmanager
def two_nodes(cpus: float = 1):
    """A head and a worker node (``cpus`` CPUs each) on 127.0.0.1; stopped (``ray stop --force``) on exit."""
    cache = Path(tempfile.mkdtemp(prefix="modeldeck-empty-hub-"))
    port = free_port()
    cluster = Cluster(f"127.0.0.1:{port}", cluster_env(cache))
    common = ["--node-ip-address", "127.0.0.1", f"--num-cpus={cpus}", "--object-store-memory", OBJECT_STORE,
              "--disable-usage-stats"]
    try:
        cluster.ray("start", "--head", f"--port={port}", "--include-dashboard=false", *common, timeout=180)
        cluster.ray("start", f"--address={cluster.address}", *common, timeout=180)
        yield cluster
    finally:
        subprocess.run([ray_bin(), "stop", "--force"], check=False, env=cluster.env, capture_output=True, timeout=120)
        shutil.rmtree(cache, ignore_errors=True)


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    output: list[str]

    def stop(self, timeout: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: the --ray driver takes its application down
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(args: list[str], env: dict, timeout: float = 240) -> Served:
    """``modeldeck serve ARGS``; returns once it prints its address."""
    return Served(*launch(args, env, timeout, cwd=ROOT))


def ready(url: str, timeout: float = 120, want=None) -> dict:
    """GET /ready until it answers 200 (and ``want(body)`` holds); the last body."""
    import httpx

    deadline, body = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/ready", timeout=10)
            body = answer.json()
            if answer.status_code == 200 and (want is None or want(body)):
                return body
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    raise TimeoutError(f"{url}/ready did not become ready: {json.dumps(body)[:2000]}")
