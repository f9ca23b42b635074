"""The Ray cluster scenario, run by test_ray.py inside its own network namespace; writes a JSON report.

Two nodes (1 CPU each), real MiniLM (two replicas, one per node) and the offline
Whisper; answers compared with the single-process server's; the real clients;
a replica killed in the middle of 200 requests (8 at a time).

    unshare -n -- bash -c 'ip link set lo up && exec python tests/cluster/scenario.py REPORT.json'
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# InferenceClient refuses even loopback when offline; the servers get HF_HUB_OFFLINE=1 from cluster_env,
# and the network guard (sitecustomize) plus the namespace still block anything but loopback here.
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ.pop("TRANSFORMERS_OFFLINE", None)

from tests.cluster.localcluster import MINILM, ROOT, ready, serve, two_nodes

JFK = ROOT / "tests" / "fixtures" / "data" / "jfk.flac"
TEXTS = ["A man is eating food.", "The girl is carrying a baby.", "Stock markets fell sharply on Monday."]
LOAD, CONCURRENCY, KILL_AFTER, REQUEST_TIMEOUT = 200, 8, 40, 60.0


def answers(url: str) -> dict:
    """What both servers are asked: embeddings (openai), a transcription (openai), InferenceClient calls."""
    import openai
    from huggingface_hub import InferenceClient

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    vectors = [d.embedding for d in client.embeddings.create(model=MINILM, input=TEXTS).data]
    with open(JFK, "rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    hf = InferenceClient(model=f"{url}/models/{MINILM}", timeout=120)
    features = hf.feature_extraction(TEXTS[0]).tolist()
    asr = InferenceClient(model=f"{url}/models/Systran/faster-whisper-tiny.en", timeout=120)
    try:
        hf_text = asr.automatic_speech_recognition(JFK.read_bytes()).text
    except Exception as e:  # noqa: BLE001 - recorded: the default ASR id may differ
        hf_text = f"error: {e}"
    return {"embeddings": vectors, "transcript": text.strip(), "hf_features": features, "hf_transcript": hf_text}


def load_with_kill(url: str, victim_pid: int) -> list[dict]:
    """LOAD embeddings requests, CONCURRENCY at a time; ``victim_pid`` killed after KILL_AFTER answers."""
    import httpx

    done = []

    def one(i: int) -> dict:
        started = time.monotonic()
        try:
            r = httpx.post(f"{url}/v1/embeddings", json={"model": MINILM, "input": f"request number {i}"},
                           timeout=REQUEST_TIMEOUT)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            outcome = {"i": i, "status": r.status_code, "retry_after": r.headers.get("retry-after"),
                       "error": (body.get("error") or {}).get("message") if r.status_code != 200 else None,
                       "dims": len(body["data"][0]["embedding"]) if r.status_code == 200 else 0}
        except Exception as e:  # noqa: BLE001 - a hang or a dropped connection is what this looks for
            outcome = {"i": i, "status": None, "error": f"{type(e).__name__}: {e}"}
        outcome["seconds"] = round(time.monotonic() - started, 3)
        done.append(outcome)
        if len(done) == KILL_AFTER:
            os.kill(victim_pid, signal.SIGKILL)
        return outcome

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(one, range(LOAD)))


def minilm_row(body: dict) -> dict:
    return next(r for r in body["models"] if r["model"] == MINILM)


def main(report_path: str) -> None:
    report: dict = {"stage": "start", "timings": {}}
    t0 = time.monotonic()

    def stage(name: str) -> None:
        report["stage"] = name
        report["timings"][name] = round(time.monotonic() - t0, 1)
        Path(report_path).write_text(json.dumps(report))

    try:
        with two_nodes() as cluster:
            stage("cluster up")
            env = cluster.env
            local = serve(["--port", "0", "--tasks", "feature-extraction,automatic-speech-recognition"], env)
            try:
                report["local"] = answers(local.url)
            finally:
                local.stop()
            stage("local answers")
            port = str(__import__("tests.cluster.localcluster", fromlist=["free_port"]).free_port())
            ray_served = serve(["--ray", cluster.address, "--port", port, "--preload", "whisper-1",
                                "--preload", MINILM, "--replicas", f"{MINILM}=2", "--replica-cpus", f"{MINILM}=0.6",
                                "--replica-cpus", "whisper-1=0.25", "--request-timeout", "45"], env, timeout=300)
            report["ray_output"] = ray_served.output[-20:]
            try:
                stage("ray serving")
                report["ray"] = answers(ray_served.url)
                stage("ray answers")
                # Spread the MiniLM answers over both replicas, then read who answered from /ready.
                import httpx

                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(lambda i: httpx.post(f"{ray_served.url}/v1/embeddings", timeout=60,
                                                       json={"model": MINILM, "input": f"warm {i}"}), range(24)))
                before = minilm_row(ready(ray_served.url))
                report["before"] = before
                victim = int(max(before["answers_by_process"]).rsplit(":", 1)[1])
                report["victim"] = victim
                stage("load")
                report["load"] = load_with_kill(ray_served.url, victim)
                stage("recovery")
                old = set(before["answers_by_process"])

                def recovered(body):
                    row = minilm_row(body)
                    return row["replicas"].get("RUNNING") == 2 and row["status"] == "HEALTHY"

                report["recovered"] = minilm_row(ready(ray_served.url, timeout=150, want=recovered))
                # the replacement answers too: keep asking until a new process shows up
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with ThreadPoolExecutor(4) as pool:
                        list(pool.map(lambda i: httpx.post(f"{ray_served.url}/v1/embeddings", timeout=60,
                                                           json={"model": MINILM, "input": f"after {i}"}), range(8)))
                    row = minilm_row(ready(ray_served.url))
                    fresh = {p for p in row["answers_by_process"] if p not in old}
                    if any(p.rsplit(":", 1)[1] != str(victim) for p in fresh):
                        break
                report["after"] = row
                stage("done")
            finally:
                ray_served.stop()
                report["ray_output"] = ray_served.output[-40:]
    except BaseException as e:  # noqa: BLE001 - the report says where and why
        report["failure"] = "".join(traceback.format_exception(e))[-6000:]
        if "cluster" in locals():
            report["ray_log"] = cluster.log[-6:]
    report["timings"]["total"] = round(time.monotonic() - t0, 1)
    Path(report_path).write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
