"""MODELDECK_* environment and defaults, read in one place."""

from __future__ import annotations

import os
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE


def offline_forced() -> bool:
    """True when the user said to stay offline (flag or environment)."""
    return env_flag("MODELDECK_OFFLINE") or env_flag("HF_HUB_OFFLINE")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_cache() -> Path:
    """The Hugging Face hub cache, honouring HF_HUB_CACHE and HF_HOME."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def device() -> str:
    """'auto' unless MODELDECK_DEVICE names one (cpu, cuda, cuda:1, mps)."""
    return os.environ.get("MODELDECK_DEVICE", "auto")


def probe_timeout() -> float:
    """Seconds to wait for the hub before acting offline."""
    return float(os.environ.get("MODELDECK_PROBE_TIMEOUT", "3"))


def modeldeck_home() -> Path:
    """Where modeldeck keeps its own small state (last-used times)."""
    return Path(os.environ.get("MODELDECK_HOME", os.path.expanduser("~/.cache/modeldeck")))
