"""``modeldeck serve --ray`` on a real two-node Ray cluster, confined to loopback in its own network namespace.

The scenario (scenario.py) runs in a subprocess under ``unshare -n``; this
test reads its report. Run alone with: pytest -m cluster tests/cluster
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.cluster.localcluster import MINILM, in_namespace_command, namespace_allowed

pytest.importorskip("ray.serve", reason="needs the cluster extra: pip install 'modeldeck[cluster]'")
pytest.importorskip("openai")
pytest.importorskip("fastapi")

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.real_weights, pytest.mark.timeout(540)]
SCENARIO = Path(__file__).with_name("scenario.py")
HARD_TIMEOUT = 420  # seconds for the whole scenario: cluster start, deploy, checks, teardown


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    why = namespace_allowed()
    if why:
        pytest.skip(f"the Ray cluster test runs in a loopback-only network namespace: {why}")
    path = tmp_path_factory.mktemp("ray") / "report.json"
    process = subprocess.Popen(in_namespace_command(SCENARIO, str(path)), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=HARD_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"the Ray scenario ran past {HARD_TIMEOUT} s; report: {path.read_text()[-3000:] if path.exists() else ''}")
    assert path.exists(), f"the scenario wrote no report:\n{output[-4000:]}"
    result = json.loads(path.read_text())
    assert "failure" not in result, (
        f"the scenario failed at stage {result['stage']!r}:\n{result['failure']}\n"
        + "".join(result.get("ray_output", []))[-3000:] + "\n".join(result.get("ray_log", [])))
    return result


def test_answers_equal_the_single_process_servers(report):
    local, ray = report["local"], report["ray"]
    assert len(ray["embeddings"]) == 3 and len(ray["embeddings"][0]) == 384
    for a, b in zip(local["embeddings"], ray["embeddings"]):
        assert max(abs(x - y) for x, y in zip(a, b)) < 1e-5
    assert "ask not what your country can do for you" in ray["transcript"].lower()
    assert ray["transcript"] == local["transcript"]


def test_inference_client_works_unchanged(report):
    local, ray = report["local"], report["ray"]
    assert max(abs(x - y) for x, y in zip(_flat(local["hf_features"]), _flat(ray["hf_features"]))) < 1e-5
    assert ray["hf_transcript"] == local["hf_transcript"]
    assert "ask not what your country" in ray["hf_transcript"].lower()


def test_both_nodes_serve_the_two_replicas(report):
    row = report["before"]
    assert row["model"] == MINILM and row["replicas"] == {"RUNNING": 2}
    assert len(row["answers_by_node"]) == 2, row  # one replica on each node (0.6 CPU each on 1-CPU nodes)
    assert all(count > 0 for count in row["answers_by_node"].values())


def test_killed_replica_loses_no_request(report):
    load = report["load"]
    assert len(load) == 200 and sorted(r["i"] for r in load) == list(range(200))
    kinds = Counter(r["status"] for r in load)
    for r in load:
        if r["status"] != 200:  # a clear, retryable refusal: 503/504 with Retry-After and a message
            assert r["status"] in (503, 504) and r["retry_after"] and r["error"], r
        else:
            assert r["dims"] == 384
        assert r["seconds"] < 60, r  # none hangs past the client's timeout
    assert kinds[200] >= 150, kinds


def test_serve_brings_the_replica_back(report):
    assert report["recovered"]["replicas"] == {"RUNNING": 2} and report["recovered"]["status"] == "HEALTHY"
    victim = str(report["victim"])
    fresh = [p for p in report["after"]["answers_by_process"] if p not in report["before"]["answers_by_process"]]
    assert any(p.rsplit(":", 1)[1] != victim for p in fresh), report["after"]


def test_scenario_kept_to_its_time(report):
    assert report["timings"]["total"] < 300, report["timings"]


def _flat(value) -> list[float]:
    out = []
    for item in value if isinstance(value, list) else [value]:
        out.extend(_flat(item) if isinstance(item, list) else [item])
    return out
