"""A real two-node Ray cluster on one machine (head + worker via ``ray start``, 1 CPU each), on loopback only.

Meant to run inside its own network namespace (``unshare -n``, only ``lo`` up),
so no Ray process can reach any other address. Used by the cluster test's
scenario and by bench/cluster.py. Always stopped with ``ray stop --force``.

As an operator's cluster: Ray's token authentication on (a token made for the
cluster, ``RAY_AUTH_MODE=token`` for every Ray process and CLI), with a HOME of
its own so nothing is written to the real ``~/.ray``.
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


# Serve's autoscaling hears of ongoing requests every 10 s by default; a test cluster wants it sooner.
FAST_METRICS = {"RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5",
                "RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S": "0.5"}
# What README's multi-node recipe sets before 'ray start': Serve's one proxy (on the head) would otherwise
# send every request to the replicas on its own node while they have room, leaving the others idle.
SPREAD = {"RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0"}


def cluster_env(cache: Path, home: Path | None = None) -> dict:
    """The environment for Ray and modeldeck: offline, an empty HF cache (packaged real models), no stats;
    with ``home``, token authentication as Ray 2.60 does it (the token in HOME/.ray/auth_token)."""
    env = dict(os.environ)
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1",
                "MODELDECK_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_NODE_IP_ADDRESS": "127.0.0.1",
                "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
                **FAST_METRICS, **SPREAD})
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    if home is not None:
        env.update({"HOME": str(home), "RAY_AUTH_MODE": "token"})
    return env


TINY_CHAT = "modeldeck-tests/tiny-chat"
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def add_tiny_chat(cache: Path) -> str:
    """A chat model that streams token by token (greedy; Blenderbot's beam search answers in one piece):
    the fixture hub's tiny GPT-2 with a chat template, in ``cache`` as TINY_CHAT."""
    from tests.fixtures.hub import DEFAULT_ROOT, install_snapshot, repo_folder

    gpt2 = repo_folder(DEFAULT_ROOT, "gpt2")
    source = Path(tempfile.mkdtemp(prefix="modeldeck-tiny-chat-"))
    try:
        snapshot = gpt2 / "snapshots" / (gpt2 / "refs" / "main").read_text().strip()
        for file in snapshot.iterdir():
            (source / file.name).write_bytes(file.read_bytes())
        (source / "chat_template.jinja").write_text(CHAT_TEMPLATE)
        install_snapshot(cache, TINY_CHAT, source, "0" * 40)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    return TINY_CHAT


def link_models(cache: Path, model_ids: list[str]) -> None:
    """Make fixture-hub models (tiny, random) visible in ``cache`` beside the packaged real ones."""
    from tests.fixtures.hub import DEFAULT_ROOT, repo_folder

    for model_id in model_ids:
        source = repo_folder(DEFAULT_ROOT, model_id)
        if not source.is_dir():
            raise RuntimeError(f"{model_id} is not in the fixture hub ({DEFAULT_ROOT}): run 'make fixture-hub'.")
        repo_folder(cache, model_id).symlink_to(source, target_is_directory=True)


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@dataclass
class Cluster:
    address: str
    env: dict
    cache: Path
    log: list[str] = field(default_factory=list)

    def run(self, program: str, *args: str, timeout: float = 120, check: bool = True, env: dict | None = None,
            prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """``program ARGS`` (ray, serve: from this Python's bin folder) in the cluster's environment."""
        command = [*prefix, str(Path(sys.executable).with_name(program)), *args]
        done = subprocess.run(command, check=False, env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)
        self.log.append(f"$ {program} {' '.join(args)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def ray(self, *args: str, timeout: float = 120, prefix: tuple[str, ...] = ()) -> str:
        return self.run("ray", *args, timeout=timeout, prefix=prefix).stdout


@contextmanager
def two_nodes(cpus: float = 1, dashboard: bool = False, token: bool = False, pin: bool = False):
    """A head and a worker node (``cpus`` CPUs each) on 127.0.0.1; stopped (``ray stop --force``) on exit.

    ``dashboard``: the head runs Ray's dashboard (what ``serve deploy`` and ``serve status`` talk to).
    ``token``: Ray's token authentication, as an operator turns it on (``ray get-auth-token --generate``
    on the head, ``RAY_AUTH_MODE=token`` everywhere). ``pin``: each node's processes on a core of their
    own (``taskset``: the head on core 0, the worker on core 1), like two one-core machines.
    """
    cache = Path(tempfile.mkdtemp(prefix="modeldeck-empty-hub-"))
    home = Path(tempfile.mkdtemp(prefix="modeldeck-ray-home-")) if token else None
    worker_home = Path(tempfile.mkdtemp(prefix="modeldeck-ray-worker-")) if token else None
    port = free_port()
    cluster = Cluster(f"127.0.0.1:{port}", cluster_env(cache, home), cache)
    common = ["--node-ip-address", "127.0.0.1", f"--num-cpus={cpus}", "--object-store-memory", OBJECT_STORE,
              "--disable-usage-stats"]
    cores = [("taskset", "-c", "0"), ("taskset", "-c", "1")] if pin else [(), ()]
    head = ["--dashboard-host=127.0.0.1", "--dashboard-port", str(free_port())] if dashboard else [
        "--include-dashboard=false"]
    try:
        if token:
            cluster.ray("get-auth-token", "--generate")
        cluster.ray("start", "--head", f"--port={port}", *head, *common, timeout=180, prefix=cores[0])
        worker = None
        if token:  # as on another machine: no token file, the head's token in RAY_AUTH_TOKEN (README's recipe)
            token_value = (home / ".ray" / "auth_token").read_text().strip()
            worker = {**cluster.env, "HOME": str(worker_home), "RAY_AUTH_TOKEN": token_value}
        cluster.run("ray", "start", f"--address={cluster.address}", *common, timeout=180, prefix=cores[1],
                    env=worker)
        if dashboard:
            cluster.env["RAY_DASHBOARD_ADDRESS"] = f"http://127.0.0.1:{head[2]}"  # for serve deploy / status
        yield cluster
    finally:
        subprocess.run([ray_bin(), "stop", "--force"], check=False, env=cluster.env, capture_output=True, timeout=120)
        shutil.rmtree(cache, ignore_errors=True)
        for folder in (home, worker_home):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


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


def serve(args: list[str], env: dict, timeout: float = 240, prefix: tuple[str, ...] = ()) -> Served:
    """``modeldeck serve ARGS`` (after ``prefix``, e.g. taskset); returns once it prints its address."""
    return Served(*launch(args, env, timeout, cwd=ROOT, prefix=prefix))


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
