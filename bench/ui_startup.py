"""Cold start of the web UI: seconds from launching the process to HTTP 200 on its root.

Compares ``modeldeck ui`` (every task's tab; torch is imported only when a tab
is used) with the plain way: a Gradio app that imports torch and transformers
at the top and builds its pipeline at startup (one feature-extraction tab on
the same real all-MiniLM-L6-v2 weights). Each run is a fresh process; rounds
alternate so neither gets a warmer disk cache. Also reports whether torch was
imported by the time the page was served. Prints a JSON line and a markdown row.

    python bench/ui_startup.py [--rounds 3]
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
from pathlib import Path

import httpx

# Runs inside the measured process: serve, and once the root answers, say whether torch is loaded.
PROBE = """
import sys, threading, time, urllib.request
def probe(url):
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                print("TORCH_LOADED=%s" % ("torch" in sys.modules), flush=True)
                return
        except Exception:
            time.sleep(0.05)
threading.Thread(target=probe, args=(sys.argv[1],), daemon=True).start()
"""

MODELDECK = PROBE + """
from modeldeck.cli import main
sys.exit(main(["ui", "--port", sys.argv[2]]))
"""

PLAIN = PROBE + """
import torch
import transformers
import gradio as gr
from transformers import pipeline

extractor = pipeline("feature-extraction", model=sys.argv[3], device="cpu")

def embed(text):
    return extractor(text, return_tensors=False)[0][0][:8]

gr.Interface(embed, gr.Textbox(label="Text"), gr.JSON(label="First values")).launch(
    server_name="127.0.0.1", server_port=int(sys.argv[2]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start(code: str, *extra: str) -> tuple[float, bool]:
    """Seconds until the root answers 200, and whether torch was imported by then."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, f.name, url, str(port), *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{f.name} exited with {process.returncode}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    elapsed = time.perf_counter() - start
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        for line in process.stdout:
            if line.startswith("TORCH_LOADED="):
                return elapsed, line.strip().endswith("True")
        raise RuntimeError("the probe did not report")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        os.unlink(f.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from pinning import pin

    machine = pin("torch", "fp32")  # the servers started below inherit the pins

    import modeldeck
    from modeldeck.hub import resolve

    model = str(resolve("sentence-transformers/all-MiniLM-L6-v2").path)
    tasks = len(modeldeck.tasks())
    cold_start(MODELDECK)  # warm the disk cache for both (same libraries on disk)
    deck, plain, deck_torch, plain_torch = [], [], [], []
    for _ in range(args.rounds):
        seconds, torch_loaded = cold_start(MODELDECK)
        deck.append(seconds)
        deck_torch.append(torch_loaded)
        seconds, torch_loaded = cold_start(PLAIN, model)
        plain.append(seconds)
        plain_torch.append(torch_loaded)
    result = {
        "bench": "ui_startup",
        **machine,
        "rounds": args.rounds,
        "modeldeck_tasks": tasks,
        "modeldeck_s": round(statistics.median(deck), 2),
        "modeldeck_torch_imported": any(deck_torch),
        "plain_s": round(statistics.median(plain), 2),
        "plain_torch_imported": any(plain_torch),
        "speedup": round(statistics.median(plain) / statistics.median(deck), 2),
    }
    print(json.dumps(result))
    print("| job | plain | modeldeck | speedup |")
    print("| --- | --- | --- | --- |")
    print(
        f"| cold start to a served page (HTTP 200 on /) | Gradio app importing transformers, pipeline built at startup "
        f"(1 tab): {result['plain_s']:.2f} s, torch loaded: {result['plain_torch_imported']} | `modeldeck ui` "
        f"({tasks} tabs): {result['modeldeck_s']:.2f} s, torch loaded: {result['modeldeck_torch_imported']} | "
        f"{result['speedup']:.2f}x |"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
