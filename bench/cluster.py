"""Throughput on a two-node local Ray cluster: 1 replica vs 2, and Ray vs the single-process server.

Runs itself inside a loopback-only network namespace (``unshare -n``, as root),
starts a head and a worker node (1 CPU each) with ``ray start``, each node's
processes pinned to a core of their own (``taskset``: two one-core machines),
and every model runs one intra-op thread (the single process too, pinned to one
core). Three workloads, each with a fixed number of concurrent clients:

- one sentence per request: real all-MiniLM-L6-v2 embeddings (/v1/embeddings);
- 32 texts per request (3 to 80 words each), the same model;
- one review-length text (45 words) per request, text classification with
  a DistilBERT of the real distilbert-base-uncased-finetuned-sst-2-english size
  (random weights: timings depend on shapes, not values), through the Hugging
  Face route (which takes one text per classification request, as the hosted API).

Each against: ``modeldeck serve`` (one process); ``modeldeck serve --ray`` with
1 replica; and with 2 (one per node). With one model, its replicas answer HTTP
themselves (Serve's proxy -> the replica). The load comes from ``hey`` (native,
so the cores go to the servers) when installed, else from Python threads.
Prints a JSON line and markdown rows, with the load average beside each figure
(compare only on a quiet machine). On 2 cores, 2 replicas can reach about 2x.

    python bench/cluster.py [--requests 400] [--heavy-requests 40] [--concurrency 8] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.cluster.localcluster import (  # noqa: E402 - after the path is set
    MINILM,
    free_port,
    in_namespace_command,
    namespace_allowed,
    ready,
    serve,
    two_nodes,
)

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
TEXTS_PER_REQUEST = 32


def workloads(requests: int, heavy: int) -> dict[str, dict]:
    """name -> the model it needs, the route, one request body, and how many requests to time."""
    from embed import sentences

    texts = sentences(TEXTS_PER_REQUEST, seed=1)
    review = " ".join(sentences(4, seed=1)[:3])  # three sentences, 45 words: a short review
    return {
        "minilm_1": {"model": MINILM, "task": "feature-extraction", "path": "/v1/embeddings", "requests": requests,
                     "body": {"model": MINILM, "input": "The girl is carrying a baby across the old bridge."},
                     "label": "one sentence per request, MiniLM embeddings"},
        "minilm_32": {"model": MINILM, "task": "feature-extraction", "path": "/v1/embeddings", "requests": heavy,
                      "body": {"model": MINILM, "input": texts},
                      "label": f"{TEXTS_PER_REQUEST} texts per request, MiniLM embeddings"},
        "distilbert": {"model": SST2, "task": "text-classification", "path": f"/models/{SST2}",
                       "requests": requests // 2, "body": {"inputs": review},
                       "label": f"one review ({len(review.split())} words) per request, DistilBERT (SST-2 size) "
                                "classification"},
    }


def install_distilbert(cache: Path) -> None:
    """The real-size DistilBERT classifier (random weights), in the cluster's HF cache under its real id."""
    from engine import distilbert_sst2

    from tests.fixtures.hub import install_snapshot

    folder = Path(tempfile.mkdtemp(prefix="modeldeck-sst2-"))
    try:
        install_snapshot(cache, SST2, distilbert_sst2(folder), "1" * 40)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hey_load(url: str, body: dict, total: int, concurrency: int) -> tuple[float, int]:
    """(requests per second, requests not answered 200) from ``hey``."""
    path = Path(tempfile.mkdtemp()) / "body.json"
    path.write_text(json.dumps(body))
    out = subprocess.run(["hey", "-n", str(total), "-c", str(concurrency), "-t", "300", "-m", "POST",
                          "-T", "application/json", "-D", str(path), url],
                         capture_output=True, text=True, check=True, timeout=1800).stdout
    shutil.rmtree(path.parent, ignore_errors=True)
    ok = next((int(line.split()[1]) for line in out.splitlines() if line.strip().startswith("[200]")), 0)
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1]), total - ok


def python_load(url: str, body: dict, total: int, concurrency: int) -> tuple[float, int]:
    """(requests per second, failures) from Python threads (when hey is not installed)."""
    import httpx

    client = httpx.Client(timeout=300, limits=httpx.Limits(max_connections=concurrency))
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(lambda _: client.post(url, json=body).status_code, range(total)))
    seconds = time.perf_counter() - started
    client.close()
    return total / seconds, sum(c != 200 for c in codes)


def throughput(url: str, work: dict, concurrency: int) -> dict:
    """Requests per second (after a warm-up), texts per second, failures, and the load average around it."""
    load = hey_load if shutil.which("hey") else python_load
    target = url + work["path"]
    warm, failed = load(target, work["body"], concurrency, concurrency)  # warm-up: first batches, connections
    if failed:
        import httpx

        answer = httpx.post(target, json=work["body"], timeout=300)
        raise RuntimeError(f"{target} did not answer 200: {answer.status_code} {answer.text[:500]}")
    before = os.getloadavg()[0]
    total = max(concurrency, work["requests"] // concurrency * concurrency)  # hey sends n rounded down to c's
    rps, failed = load(target, work["body"], total, concurrency)
    given = work["body"].get("input", work["body"].get("inputs"))
    texts = len(given) if isinstance(given, list) else 1
    return {"rps": round(rps, 2), "texts_per_s": round(rps * texts, 1), "failed": failed,
            "load": [round(before, 2), round(os.getloadavg()[0], 2)], "answered_by": who_answers(target, work,
                                                                                                concurrency)}


def who_answers(url: str, work: dict, concurrency: int) -> dict[str, int]:
    """Which replica answered each of ``2 x concurrency`` requests sent as the load was (its header)."""
    import httpx

    with httpx.Client(timeout=300) as client, ThreadPoolExecutor(concurrency) as pool:
        found = list(pool.map(lambda _: client.post(url, json=work["body"]).headers.get("x-modeldeck-replica", "-"),
                              range(2 * concurrency)))
    return {name.rsplit(":", 1)[-1]: found.count(name) for name in sorted(set(found))}


def inside(requests: int, heavy: int, concurrency: int, only: str | None) -> dict:
    chosen = {k: w for k, w in workloads(requests, heavy).items() if only is None or k == only}
    results: dict = {"requests": requests, "heavy_requests": heavy, "concurrency": concurrency,
                     "load_generator": "hey" if shutil.which("hey") else "python", "rows": {}}
    models = list(dict.fromkeys(w["model"] for w in chosen.values()))
    with two_nodes(pin=True) as cluster:
        if SST2 in models:
            install_distilbert(cluster.cache)
        env = {**cluster.env, "MODELDECK_RUNTIME": "torch"}  # fp32 torch everywhere: the same work per request
        tasks = {w["model"]: w["task"] for w in chosen.values()}
        preload = [arg for model in models for arg in ("--preload", f"{tasks[model]}={model}")]
        # the single process: one core (taskset) and one thread (OMP_NUM_THREADS=1), as each replica
        local = serve(["--port", "0", "--queue-size", "256", *preload], env, prefix=("taskset", "-c", "1"))
        try:
            for name, work in chosen.items():
                results["rows"][f"{name}/single_process"] = throughput(local.url, work, concurrency)
        finally:
            local.stop()
        for model in models:
            task = tasks[model]
            for replicas in (1, 2):
                port = str(free_port())
                served = serve(["--ray", cluster.address, "--port", port, "--preload", f"{task}={model}",
                                "--replicas", str(replicas), "--replica-cpus", "1", "--queue-size", "256"],
                               env, timeout=300)
                try:
                    ready(served.url, want=lambda body, n=replicas: body["models"][0]["replicas"].get("RUNNING") == n)
                    for name, work in chosen.items():
                        if work["model"] == model:
                            results["rows"][f"{name}/ray_{replicas}"] = throughput(served.url, work, concurrency)
                finally:
                    served.stop()
    for name in chosen:
        rows = results["rows"]
        single, one, two = (rows.get(f"{name}/{k}") for k in ("single_process", "ray_1", "ray_2"))
        results[f"{name}/ratio_2_over_1"] = round(two["rps"] / one["rps"], 2)
        results[f"{name}/ray_1_over_single_process"] = round(one["rps"] / single["rps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="one-sentence requests timed per server")
    parser.add_argument("--heavy-requests", type=int, default=40, help="32-text requests timed per server")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", choices=["minilm_1", "minilm_32", "distilbert"], default=None)
    parser.add_argument("--inside", metavar="REPORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        Path(args.inside).write_text(json.dumps(inside(args.requests, args.heavy_requests, args.concurrency,
                                                       args.only)))
        return
    from pinning import pin

    machine = pin("torch", "fp32")  # the servers and replicas started below inherit the pins
    why = namespace_allowed()
    if why:
        sys.exit(f"bench/cluster.py runs in a loopback-only network namespace: {why}")
    report = Path(os.environ.get("TMPDIR", "/tmp")) / f"modeldeck-bench-cluster-{os.getpid()}.json"
    command = in_namespace_command(Path(__file__).resolve(), "--requests", str(args.requests), "--heavy-requests",
                                   str(args.heavy_requests), "--concurrency", str(args.concurrency),
                                   *(["--only", args.only] if args.only else []), "--inside", str(report))
    subprocess.run(command, check=True, timeout=3600)
    r = json.loads(report.read_text())
    report.unlink()
    print(json.dumps({**machine, **r}))
    labels = {k: w["label"] for k, w in workloads(1, 1).items()}
    print(f"\nload generator: {r['load_generator']}, {r['concurrency']} concurrent clients; "
          "each replica (and the single process) on one core, one thread\n")
    print("| workload | server | requests/s | texts/s | failed | load average (before, after) | answered by (pid: of 2 x clients) |\n"
          "|---|---|---|---|---|---|---|")
    for key, row in r["rows"].items():
        name, server = key.split("/")
        shown = {"single_process": "modeldeck serve (one process)", "ray_1": "--ray, 1 replica",
                 "ray_2": "--ray, 2 replicas (one per node)"}[server]
        print(f"| {labels[name]} | {shown} | {row['rps']} | {row['texts_per_s']} | {row['failed']} | "
              f"{row['load'][0]}, {row['load'][1]} | "
              f"{', '.join(f'{k}: {v}' for k, v in row['answered_by'].items()) if server != 'single_process' else ''} |")
    print()
    for name in labels:
        if f"{name}/ratio_2_over_1" in r:
            print(f"{labels[name]}: 2 replicas / 1 = {r[f'{name}/ratio_2_over_1']}x; "
                  f"Ray 1 replica / single process = {r[f'{name}/ray_1_over_single_process']}x")


if __name__ == "__main__":
    main()
