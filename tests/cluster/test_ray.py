"""``modeldeck serve --ray`` on a real two-node Ray cluster, confined to loopback in its own network namespace.

The scenario (scenario.py) runs once, in a subprocess under ``unshare -n``, on
one cluster for every check; these tests read its report. Run alone with:
pytest -m cluster tests/cluster
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.cluster.localcluster import MINILM, in_namespace_command, namespace_allowed

pytest.importorskip("ray.serve", reason="needs the cluster extra: pip install 'modeldeck[cluster]'")
pytest.importorskip("openai")
pytest.importorskip("fastapi")

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.real_weights, pytest.mark.timeout(540)]
SCENARIO = Path(__file__).with_name("scenario.py")
HARD_TIMEOUT = 480  # seconds for the whole scenario: cluster start, two rounds of deploys and checks, teardown


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
    from tests.cluster.scenario import CONCURRENCY

    load, killed_at = report["load"]["requests"], report["load"]["killed_at"]
    assert len(load) == 200 and sorted(r["i"] for r in load) == list(range(200))
    for r in load:  # every request answered, a refused one on the retry its refusal asked for
        assert r["status"] == 200 and r["dims"] == 384, r
        assert r["seconds"] < 60, r  # none hangs past the client's timeout
    refused = [a for r in load for a in r["attempts"] if a["status"] != 200]
    for a in refused:  # only a clear, retryable refusal, and only for what the killed replica held
        assert a["status"] in (503, 504) and a["retry_after"] and a["error"], a
        assert "lost while answering" in a["error"] and a["answered"] >= killed_at, (a, killed_at)
    # the refused are the requests in flight on the victim when it died: never more than are sent at once
    assert len(refused) <= CONCURRENCY, refused


def test_serve_brings_the_replica_back(report):
    assert report["recovered"]["replicas"] == {"RUNNING": 2} and report["recovered"]["status"] == "HEALTHY"
    victim = str(report["victim"])
    fresh = [p for p in report["after"]["answers_by_process"] if p not in report["before"]["answers_by_process"]]
    assert any(p.rsplit(":", 1)[1] != victim for p in fresh), report["after"]


def test_replicas_batch_requests_from_different_callers(report):
    # Serve lets enough requests into a replica at once for its engine to put them in one forward pass
    sizes = {int(size) for size in report["batched"]["batch_sizes"]}
    assert max(sizes) > 1, report["batched"]


def test_streams_through_the_ingress_join_to_the_whole_answer(report):
    local, ray = report["local_generated"], report["ray_generated"]
    assert ray["completion"] == local["completion"] and ray["completion"]
    assert "".join(ray["completion_pieces"]) == ray["completion"] and len(ray["completion_pieces"]) > 1
    assert ray["hf_text"] == local["hf_text"] and "".join(ray["hf_pieces"]) == ray["hf_text"]
    assert ray["chat"] == local["chat"] and ray["chat"]
    assert "".join(ray["chat_pieces"]) == ray["chat"] and len(ray["chat_pieces"]) > 1


@pytest.mark.parametrize("key", ["ray_timed", "direct_timed"])
def test_pieces_arrive_as_they_are_made(report, key):
    timed = report[key]
    assert timed["pieces"] == 600
    # the first piece comes at the start of the generation, not with the last one at its end
    assert timed["first"] < 0.5 * timed["last"], timed


def test_a_refused_stream_is_an_http_error_not_a_broken_200(report):
    refused = report["ray_refused"]
    assert refused["status"] == 400 and refused["content_type"].startswith("application/json"), refused
    assert "temperature" in refused["body"]


@pytest.mark.parametrize("key", ["ray_left", "direct_left"])
def test_a_client_that_leaves_frees_the_replica(report, key):
    left = report[key]
    assert left["seconds_to_free"] is not None and left["seconds_to_free"] < 5, left
    if "pieces_made" in left:  # the replica stopped generating: nowhere near the LONG pieces asked for
        assert left["pieces_made"] < 500, left


@pytest.mark.parametrize("key", ["ray_killed_stream", "direct_killed_stream"])
def test_a_replica_killed_mid_stream_ends_the_stream_with_an_error(report, key):
    killed = report[key]
    assert killed["pieces"] >= 3 and killed["ended"] != "normally", killed
    assert killed["seconds_after_kill"] < 30, killed  # an error, soon; never a hang


def test_the_ingress_names_the_lost_replica_in_the_stream(report):
    # through an ingress the stream ends with an error event saying what happened (openai raises it)
    assert "APIError" in report["ray_killed_stream"]["ended"], report["ray_killed_stream"]
    assert "replica" in report["ray_killed_stream"]["ended"].lower()


def test_serve_deploy_of_the_printed_config(report):
    # without the cluster's token Ray refuses (what README's recipe sets up); with it the app runs
    assert report["deploy_without_token"]["rc"] != 0
    assert "authentication" in report["deploy_without_token"]["output"].lower()
    assert report["serve_status"] and "modeldeck" in report["serve_status"], report.get("deploy")
    row = report["direct_ready"]["models"][0]
    assert row["model"] == "gpt2" and row["status"] == "HEALTHY" and row["replica"]["threads"] == 1


def test_one_model_answers_http_itself_with_the_same_answers(report):
    local, direct = report["local_generated"], report["direct_generated"]
    for key in ("completion", "hf_text"):
        assert direct[key] == local[key]
    assert "".join(direct["completion_pieces"]) == direct["completion"]
    assert "".join(direct["hf_pieces"]) == direct["hf_text"]
    assert report["direct_left"]["replica"]  # every answer names the replica that gave it


def test_autoscaling_goes_up_under_load_and_back_down(report):
    assert report["scaled_up_after"] is not None, report["timings"]
    assert report["scaled_down_after"] is not None, report["timings"]


def test_requests_are_answered_again_after_a_replica_is_killed(report):
    assert report["direct_after_kill"], report["direct_killed_stream"]


def test_scenario_kept_to_its_time(report):
    assert report["timings"]["total"] < 420, report["timings"]


def _flat(value) -> list[float]:
    out = []
    for item in value if isinstance(value, list) else [value]:
        out.extend(_flat(item) if isinstance(item, list) else [item])
    return out
