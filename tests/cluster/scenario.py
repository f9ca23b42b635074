"""The Ray cluster scenario, run by test_ray.py inside its own network namespace; writes a JSON report.

One two-node cluster (1 CPU each, Ray's token authentication on, the dashboard on
the head) serves three rounds, whose answers are compared with the single-process
server's, through the real clients (openai, InferenceClient):

1. ``modeldeck serve --ray ADDRESS`` with four models (an ingress picks the model):
   real MiniLM (two replicas, one per node) and the offline Whisper, a tiny GPT-2
   and a tiny chat model for streaming: every generative route streams as tokens are
   made, a client that leaves frees the replica, a replica killed mid-stream ends the
   stream with an error event, a replica killed in the middle of 200 requests.
2. The operator's path with one model: ``modeldeck serve --ray --print-config >
   app.yaml``, ``serve deploy app.yaml`` (refused without the token, taken with it),
   ``serve status``; the model's replicas answer HTTP themselves; streaming, a client
   that leaves, autoscaling from 1 to 2 replicas under load and back to 1, a replica
   killed mid-stream.

Every wait is bounded; the whole scenario has a hard limit in test_ray.py.

    unshare -n -- bash -c 'ip link set lo up && exec python tests/cluster/scenario.py REPORT.json'
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
# InferenceClient refuses even loopback when offline; the servers get HF_HUB_OFFLINE=1 from cluster_env,
# and the network guard (sitecustomize) plus the namespace still block anything but loopback here.
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ.pop("TRANSFORMERS_OFFLINE", None)

from tests.cluster.localcluster import (
    MINILM,
    ROOT,
    TINY_CHAT,
    add_tiny_chat,
    free_port,
    link_models,
    ready,
    serve,
    two_nodes,
)

JFK = ROOT / "tests" / "fixtures" / "data" / "jfk.flac"
TEXTS = ["A man is eating food.", "The girl is carrying a baby.", "Stock markets fell sharply on Monday."]
LOAD, CONCURRENCY, KILL_AFTER, REQUEST_TIMEOUT, RETRIES = 200, 8, 40, 60.0, 3
GPT2 = "gpt2"  # tiny random fixtures (GPT-2, and the same with a chat template): fast and deterministic
PROMPT, CHAT, NEW_TOKENS = "Once upon a time", [{"role": "user", "content": "Hello, how are you?"}], 40
LONG = 1000  # tokens of a stream that is left or cut: ~2 s of generation, far longer than the checks take


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


def generated(url: str, chat: bool = True) -> dict:
    """Greedy completions, chat and HF text generation, whole and streamed (the pieces as they came)."""
    import openai
    from huggingface_hub import InferenceClient

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
    common = {"model": GPT2, "prompt": PROMPT, "max_tokens": NEW_TOKENS, "temperature": 0}
    out = {"completion": client.completions.create(**common).choices[0].text,
           "completion_pieces": [c.choices[0].text for c in client.completions.create(**common, stream=True)
                                 if c.choices and c.choices[0].text]}
    hf = InferenceClient(model=f"{url}/models/{GPT2}", timeout=120)
    out["hf_text"] = hf.text_generation(PROMPT, max_new_tokens=NEW_TOKENS, do_sample=False)
    out["hf_pieces"] = list(hf.text_generation(PROMPT, max_new_tokens=NEW_TOKENS, do_sample=False, stream=True))
    if chat:
        talk = {"model": TINY_CHAT, "messages": CHAT, "max_tokens": NEW_TOKENS, "temperature": 0}
        out["chat"] = client.chat.completions.create(**talk).choices[0].message.content
        out["chat_pieces"] = [c.choices[0].delta.content for c in client.chat.completions.create(**talk, stream=True)
                              if c.choices and c.choices[0].delta.content]
    return out


def refused_before_streaming(url: str) -> dict:
    """A stream the model refuses (temperature out of range, checked by the runner on the replica, as the
    HF route passes parameters on): an HTTP error, not an error event after a 200."""
    import httpx

    r = httpx.post(f"{url}/models/{GPT2}", timeout=60, json={
        "inputs": PROMPT, "parameters": {"max_new_tokens": 5, "temperature": 500}, "stream": True})
    return {"status": r.status_code, "content_type": r.headers.get("content-type"), "body": r.text[:300]}


def timed_stream(url: str, tokens: int = 600) -> dict:
    """When each piece of a long stream arrived (seconds after the request was sent)."""
    import httpx

    started, times, text = time.monotonic(), [], ""
    body = {"model": GPT2, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                piece = json.loads(line[6:])["choices"][0]["text"]
                if piece:
                    times.append(time.monotonic() - started)
                    text += piece
    return {"pieces": len(times), "first": round(times[0], 3), "last": round(times[-1], 3)}


def leave_stream(url: str, pieces: int = 3) -> tuple[float, str | None]:
    """Start a long stream, read a few pieces, then close the connection; when it closed, and the replica
    that answered (its header, when the model's replicas answer HTTP themselves)."""
    import httpx

    body = {"model": GPT2, "prompt": PROMPT, "max_tokens": LONG, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=60) as r:
        replica = r.headers.get("x-modeldeck-replica")
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: {")
            if seen >= pieces:
                break
    return time.monotonic(), replica


def row_of(url: str, model: str) -> dict:
    return next(r for r in ready(url, timeout=30)["models"] if r["model"] == model)


def replica_of(url: str, model: str) -> dict:
    """The figures of one replica of ``model`` from /ready (asked again while a busy replica is slow to say)."""
    found = until(lambda: row_of(url, model).get("replica"), 60, every=0.5)
    if not found:
        raise TimeoutError(f"/ready gave no replica figures for {model} within 60 s")
    return found


def until(check, timeout: float, every: float = 0.25):
    """``check()`` until it gives something truthy (returned), or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except Exception:  # noqa: BLE001 - a replica being replaced: ask again
            found = None
        if found:
            return found
        time.sleep(every)
    return None


def freed_after_leaving(url: str, model: str = GPT2) -> dict:
    """A client leaves a long stream: how soon the replica's calls in flight are back to 0, and (with an
    ingress) how many pieces the replica made for it (a generation that went on would make LONG)."""
    before = replica_of(url, model).get("pieces_streamed")
    closed, replica = leave_stream(url)
    free = until(lambda: (row := row_of(url, model))["replica"]["in_flight"] == 0 and
                 row.get("ingress_in_flight", 0) == 0 and time.monotonic(), 20, every=0.1)
    out = {"seconds_to_free": round(free - closed, 3) if free else None, "replica": replica}
    if before is not None:
        time.sleep(1.0)  # anything still being made would show here
        out["pieces_made"] = replica_of(url, model)["pieces_streamed"] - before
    return out


def killed_mid_stream(url: str, pid: int | None = None) -> dict:
    """A long stream whose replica is killed after a few pieces: what the openai client sees, and when."""
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
    pieces, started, outcome = 0, time.monotonic(), {}
    try:
        stream = client.completions.create(model=GPT2, prompt=PROMPT, max_tokens=LONG, temperature=0, stream=True)
        header = stream.response.headers.get("x-modeldeck-replica")
        victim = pid if pid is not None else int(header.rsplit(":", 1)[1])
        for chunk in stream:
            pieces += 1
            if pieces == 3:
                os.kill(victim, signal.SIGKILL)
                killed = time.monotonic()
        outcome["ended"] = "normally"
    except Exception as e:  # noqa: BLE001 - what the client raises is the point
        outcome["ended"] = f"{type(e).__name__}: {str(e)[:300]}"
    outcome.update(pieces=pieces, seconds_after_kill=round(time.monotonic() - killed, 3) if pieces >= 3 else None,
                   seconds=round(time.monotonic() - started, 3))
    return outcome


def load_with_kill(url: str, victim_pid: int) -> dict:
    """LOAD embeddings requests, CONCURRENCY at a time; ``victim_pid`` killed after KILL_AFTER answers. A refusal
    that says to retry (503/504 with Retry-After) is retried after the time it names, as a client should, at most
    RETRIES times; every attempt is recorded with when it was sent and answered (seconds from the start)."""
    import httpx

    done, began, killed = [], time.monotonic(), {}

    def attempt(i: int) -> dict:
        sent = time.monotonic() - began
        try:
            r = httpx.post(f"{url}/v1/embeddings", json={"model": MINILM, "input": f"request number {i}"},
                           timeout=REQUEST_TIMEOUT)
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            outcome = {"status": r.status_code, "retry_after": r.headers.get("retry-after"),
                       "error": (body.get("error") or {}).get("message") if r.status_code != 200 else None,
                       "dims": len(body["data"][0]["embedding"]) if r.status_code == 200 else 0}
        except Exception as e:  # noqa: BLE001 - a hang or a dropped connection is what this looks for
            outcome = {"status": None, "error": f"{type(e).__name__}: {e}"}
        return {**outcome, "sent": round(sent, 3), "answered": round(time.monotonic() - began, 3)}

    def one(i: int) -> dict:
        attempts = [attempt(i)]
        while attempts[-1]["status"] in (503, 504) and attempts[-1]["retry_after"] and len(attempts) <= RETRIES:
            time.sleep(min(float(attempts[-1]["retry_after"]), 5))
            attempts.append(attempt(i))
        outcome = {"i": i, **attempts[-1], "attempts": attempts,
                   "seconds": round(attempts[-1]["answered"] - attempts[0]["sent"], 3)}
        done.append(outcome)
        if len(done) == KILL_AFTER:
            os.kill(victim_pid, signal.SIGKILL)
            killed["at"] = round(time.monotonic() - began, 3)
        return outcome

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        requests = list(pool.map(one, range(LOAD)))
    return {"requests": requests, "killed_at": killed["at"]}


def minilm_row(body: dict) -> dict:
    return next(r for r in body["models"] if r["model"] == MINILM)


def burst(url: str, n: int = 16) -> None:
    """``n`` embeddings requests sent at once (what the replicas' engines batch together)."""
    import httpx

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda i: httpx.post(f"{url}/v1/embeddings", timeout=60,
                                           json={"model": MINILM, "input": f"burst {i}"}), range(n)))


def with_ingress(report: dict, cluster, stage, port: str) -> None:
    """Round 1: four models behind an ingress, deployed by ``modeldeck serve --ray ADDRESS``."""
    import httpx

    ray_served = serve(["--ray", cluster.address, "--port", port, "--preload", "whisper-1",
                        "--preload", MINILM, "--replicas", f"{MINILM}=2", "--replica-cpus", f"{MINILM}=0.6",
                        "--replica-cpus", "whisper-1=0.2", "--preload", f"text-generation={GPT2}",
                        "--preload", f"chat={TINY_CHAT}", "--replica-cpus", "0.1", "--request-timeout", "45"],
                       cluster.env, timeout=300)
    report["ray_output"] = ray_served.output[-20:]
    try:
        stage("ray serving")
        report["ray"] = answers(ray_served.url)
        report["ray_generated"] = generated(ray_served.url)
        report["ray_refused"] = refused_before_streaming(ray_served.url)
        report["ray_timed"] = timed_stream(ray_served.url)
        stage("ray answers")
        report["ray_left"] = freed_after_leaving(ray_served.url)
        gpt2 = replica_of(ray_served.url, GPT2)["pid"]
        report["ray_killed_stream"] = killed_mid_stream(ray_served.url, pid=gpt2)
        stage("ray streams")
        # Spread the MiniLM answers over both replicas, then read who answered from /ready.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: httpx.post(f"{ray_served.url}/v1/embeddings", timeout=60,
                                               json={"model": MINILM, "input": f"warm {i}"}), range(24)))
        burst(ray_served.url)
        report["batched"] = replica_of(ray_served.url, MINILM)
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
        stage("ingress round done")
    finally:
        ray_served.stop()
        report["ray_output"] = ray_served.output[-40:]


def replicas_of(url: str) -> dict:
    return row_of(url, GPT2)["replicas"]


def operator_path(report: dict, cluster, stage, port: str) -> None:
    """Round 2: the printed config deployed with ``serve deploy``; one model, answering HTTP itself."""
    import subprocess

    printed = subprocess.run(
        [sys.executable, "-m", "modeldeck", "serve", "--ray", "--print-config", "--port", port,
         "--preload", f"text-generation={GPT2}", "--min-replicas", "1", "--max-replicas", "2",
         "--target-ongoing", "1", "--autoscaling", "upscale_delay_s=1", "--autoscaling", "downscale_delay_s=3",
         "--autoscaling", "look_back_period_s=12"],
        env=cluster.env, capture_output=True, text=True, timeout=120, check=True).stdout
    config = Path(cluster.cache).parent / f"modeldeck-app-{os.getpid()}.yaml"
    config.write_text(printed)
    try:
        without_token = {k: v for k, v in cluster.env.items() if k != "RAY_AUTH_MODE"}
        refused = cluster.run("serve", "deploy", str(config), env=without_token, check=False, timeout=60)
        report["deploy_without_token"] = {"rc": refused.returncode, "output": (refused.stdout + refused.stderr)[-600:]}
        deployed = cluster.run("serve", "deploy", str(config), timeout=120)
        report["deploy"] = deployed.stdout[-600:] + deployed.stderr[-600:]
    finally:
        config.unlink()
    url = f"http://127.0.0.1:{port}"

    def running():
        done = cluster.run("serve", "status", check=False, timeout=60)
        return done.stdout if "status: RUNNING" in done.stdout and "RUNNING: 1" in done.stdout else None

    report["serve_status"] = until(running, 180, every=2)
    stage("deployed")
    report["direct_ready"] = ready(url, timeout=60)
    report["direct_generated"] = generated(url, chat=False)
    report["direct_timed"] = timed_stream(url)
    report["direct_left"] = freed_after_leaving(url)
    stage("direct streams")

    stop = threading.Event()

    def keep_asking():
        import httpx

        while not stop.is_set():
            try:
                httpx.post(f"{url}/v1/completions", timeout=60, json={
                    "model": GPT2, "prompt": PROMPT, "max_tokens": 300, "temperature": 0})
            except Exception:  # noqa: BLE001 - the load only has to be there
                time.sleep(0.2)

    started = time.monotonic()
    load = [threading.Thread(target=keep_asking, daemon=True) for _ in range(4)]
    for thread in load:
        thread.start()
    try:
        up = until(lambda: replicas_of(url).get("RUNNING") == 2 and time.monotonic(), 120, every=0.5)
    finally:
        stop.set()
        for thread in load:
            thread.join(timeout=70)
    report["scaled_up_after"] = round(up - started, 1) if up else None
    quiet = time.monotonic()
    down = until(lambda: replicas_of(url) == {"RUNNING": 1} and time.monotonic(), 120, every=0.5)
    report["scaled_down_after"] = round(down - quiet, 1) if down else None
    stage("autoscaled")
    report["direct_killed_stream"] = killed_mid_stream(url)
    # a new request is answered again (a fresh replica, once Serve has replaced the one killed)
    import httpx

    report["direct_after_kill"] = until(lambda: httpx.post(f"{url}/v1/completions", timeout=30, json={
        "model": GPT2, "prompt": PROMPT, "max_tokens": 5, "temperature": 0}).status_code == 200 and
        time.monotonic(), 90)
    stage("operator round done")


def main(report_path: str) -> None:
    report: dict = {"stage": "start", "timings": {}}
    t0 = time.monotonic()

    def stage(name: str) -> None:
        report["stage"] = name
        report["timings"][name] = round(time.monotonic() - t0, 1)
        Path(report_path).write_text(json.dumps(report))

    try:
        with two_nodes(dashboard=True, token=True) as cluster:
            link_models(cluster.cache, [GPT2])
            add_tiny_chat(cluster.cache)
            stage("cluster up")
            env = cluster.env
            local = serve(["--port", "0", "--tasks", "feature-extraction,automatic-speech-recognition,"
                           "text-generation,chat"], env)
            try:
                report["local"] = answers(local.url)
                report["local_generated"] = generated(local.url)
            finally:
                local.stop()
            stage("local answers")
            port = str(free_port())  # one port for both rounds: Serve's proxy keeps the first one it had
            with_ingress(report, cluster, stage, port)
            operator_path(report, cluster, stage, port)
            stage("done")
    except BaseException as e:  # noqa: BLE001 - the report says where and why
        report["failure"] = "".join(traceback.format_exception(e))[-6000:]
        if "cluster" in locals():
            report["ray_log"] = cluster.log[-6:]
    report["timings"]["total"] = round(time.monotonic() - t0, 1)
    Path(report_path).write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
