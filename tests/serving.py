"""Start ``modeldeck serve`` in a subprocess and wait for the address it prints (server and Ray tests)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time


def launch(args: list[str], env: dict, timeout: float, cwd=None, prefix: tuple[str, ...] = ()
           ) -> tuple[str, subprocess.Popen, list[str]]:
    """``modeldeck serve ARGS`` (after ``prefix``, e.g. taskset); returns (its URL, the process, its output so
    far, still growing)."""
    process = subprocess.Popen([*prefix, sys.executable, "-m", "modeldeck", "serve", "--log-level", "warning", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    lines: queue.Queue = queue.Queue()
    output: list[str] = []

    def read():
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        if "serving on " in line:
            return line.split("serving on ", 1)[1].split()[0], process, output
    process.kill()
    process.wait()
    raise RuntimeError("modeldeck serve did not start:\n" + "".join(output[-80:]))
