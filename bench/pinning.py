"""What every benchmark pins before it measures, and says it saw (a helper for the scripts in bench/).

``pin()`` fixes the runtime and dtype modeldeck may pick (``MODELDECK_RUNTIME``, ``MODELDECK_DTYPE``: a
stored ONNX graph or a bf16-capable CPU must not change what a row measures behind its back), torch's
thread count (physical cores unless told), and prints the CPU features that decide which kernels run
(AVX-512, VNNI, BF16, AMX). ``stamp()`` is what goes into each JSON line: the same facts plus the load
average at that moment, so a figure from a busy machine reads as such.
"""

from __future__ import annotations

import os
import sys
import time


def pin(runtime: str = "torch", dtype: str = "fp32", threads: int | None = None, quiet: bool = False) -> dict:
    """Pin modeldeck's runtime and dtype for this process (and the processes it starts) and torch's threads."""
    os.environ["MODELDECK_RUNTIME"] = runtime
    os.environ["MODELDECK_DTYPE"] = dtype
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from modeldeck.runtimes import cpu_threads

    threads = threads or cpu_threads()
    os.environ["MODELDECK_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    info = stamp()
    if not quiet:
        print(f"pinned: runtime={runtime} dtype={dtype} threads={threads}; CPU: {info['cpu_model']}, "
              f"features {' '.join(info['cpu_features']) or 'none known'}; native bf16: {info['native_bf16'] or 'no'}; "
              f"load average {info['load_average']}", file=sys.stderr, flush=True)
    return info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def stamp() -> dict:
    """The machine facts a figure depends on, for the JSON line."""
    import torch

    from modeldeck.backends.device import cpu_bf16, cpu_features

    return {
        "date": time.strftime("%Y-%m-%d"), "cpu_model": cpu_model(), "cores": os.cpu_count(),
        "cpu_features": cpu_features(), "native_bf16": cpu_bf16(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "runtime": os.environ.get("MODELDECK_RUNTIME"),
        "dtype": os.environ.get("MODELDECK_DTYPE"), "load_average": load(),
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
