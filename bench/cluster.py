"""Embeddings throughput on a two-node local Ray cluster: 1 replica vs 2, and Ray vs the single-process server.

Runs itself inside a loopback-only network namespace (``unshare -n``, as root),
starts a head and a worker node (1 CPU each) with ``ray start``, and posts
short embeddings requests (real all-MiniLM-L6-v2, one text each) with a fixed
concurrency to: the single-process ``modeldeck serve``; ``modeldeck serve --ray``
with 1 replica; and with 2 replicas (one per node). Prints a JSON line and
markdown rows. On a 2-core machine the ceiling of 2 replicas over 1 is about 2x.

    python bench/cluster.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cluster.localcluster import (
    MINILM,
    free_port,
    in_namespace_command,
    namespace_allowed,
    ready,
    serve,
    two_nodes,
)


def throughput(url: str, requests: int, concurrency: int) -> dict:
    """Requests per second (after a warm-up), and failures."""
    import httpx

    client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=concurrency))

    def one(i: int) -> int:
        return client.post(f"{url}/v1/embeddings", json={"model": MINILM, "input": f"sentence {i} of the bench"}
                           ).status_code

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(4 * concurrency)))  # warm-up: loads, first batches
        started = time.perf_counter()
        codes = list(pool.map(one, range(requests)))
        seconds = time.perf_counter() - started
    client.close()
    return {"rps": round(requests / seconds, 1), "seconds": round(seconds, 2),
            "failed": sum(c != 200 for c in codes)}


def inside(requests: int, concurrency: int) -> dict:
    results = {"requests": requests, "concurrency": concurrency}
    with two_nodes() as cluster:
        local = serve(["--port", "0", "--tasks", "feature-extraction", "--preload", MINILM], cluster.env)
        try:
            results["single_process"] = throughput(local.url, requests, concurrency)
        finally:
            local.stop()
        for replicas in (1, 2):
            port = str(free_port())
            served = serve(["--ray", cluster.address, "--port", port, "--preload", MINILM, "--replicas", str(replicas),
                            "--replica-cpus", "0.6"], cluster.env, timeout=300)
            try:
                ready(served.url, want=lambda body, n=replicas: body["models"][0]["replicas"].get("RUNNING") == n)
                results[f"ray_{replicas}"] = throughput(served.url, requests, concurrency)
                results[f"ray_{replicas}_nodes"] = len(ready(served.url)["models"][0]["answers_by_node"])
            finally:
                served.stop()
    results["ratio_2_over_1"] = round(results["ray_2"]["rps"] / results["ray_1"]["rps"], 2)
    results["ray_1_over_single_process"] = round(results["ray_1"]["rps"] / results["single_process"]["rps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--inside", metavar="REPORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        Path(args.inside).write_text(json.dumps(inside(args.requests, args.concurrency)))
        return
    from pinning import pin

    machine = pin("torch", "fp32")  # the servers and replicas started below inherit the pins
    why = namespace_allowed()
    if why:
        sys.exit(f"bench/cluster.py runs in a loopback-only network namespace: {why}")
    report = Path(os.environ.get("TMPDIR", "/tmp")) / f"modeldeck-bench-cluster-{os.getpid()}.json"
    command = in_namespace_command(Path(__file__).resolve(), "--requests", str(args.requests), "--concurrency",
                                   str(args.concurrency), "--inside", str(report))
    subprocess.run(command, check=True, timeout=1200)
    r = json.loads(report.read_text())
    report.unlink()
    print(json.dumps({**machine, **r}))
    print("| server | requests/s | failed |\n|---|---|---|")
    for key, label in (("single_process", "modeldeck serve (one process)"), ("ray_1", "--ray, 1 replica"),
                       ("ray_2", f"--ray, 2 replicas ({r['ray_2_nodes']} nodes)")):
        print(f"| {label} | {r[key]['rps']} | {r[key]['failed']} |")
    print(f"\n2 replicas / 1 replica: {r['ratio_2_over_1']}x; Ray 1 replica / single process: "
          f"{r['ray_1_over_single_process']}x")


if __name__ == "__main__":
    main()
