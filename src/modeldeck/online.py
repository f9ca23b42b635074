"""Whether the Hugging Face Hub can be reached: forced offline, or probed (and the answer kept briefly)."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlparse

from . import settings
from .errors import HubUnreachable

PROBE_TTL = 30.0  # seconds a probe's answer is trusted: a long-running UI notices the network coming back
_probes: dict[str, tuple[float, bool]] = {}


def hub_reachable() -> bool:
    """Whether the hub answers a TCP connect within a few seconds (re-asked after PROBE_TTL)."""
    endpoint = settings.hub_endpoint()
    known = _probes.get(endpoint)
    if known is not None and time.monotonic() - known[0] < PROBE_TTL:
        return known[1]
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    timeout = settings.probe_timeout()
    result: list[bool] = []

    def probe() -> None:  # in a thread: DNS lookups ignore socket timeouts
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    _probes[endpoint] = (time.monotonic(), bool(result and result[0]))
    return _probes[endpoint][1]


hub_reachable.cache_clear = _probes.clear  # type: ignore[attr-defined]


def is_offline() -> bool:
    """Offline when the user says so, or when the hub cannot be reached.

    Loaders always get a local folder, so nothing else needs telling.
    """
    return settings.offline_forced() or not hub_reachable()


def offline_hint(model: str) -> str:
    return f"While online, run: modeldeck pull {model}"


def require_online(what: str) -> None:
    """Raise HubUnreachable unless the hub can be reached."""
    if settings.offline_forced():
        raise HubUnreachable(f"Cannot {what}: offline mode is on.", "Unset MODELDECK_OFFLINE / HF_HUB_OFFLINE.")
    if not hub_reachable():
        raise HubUnreachable(
            f"Cannot {what}: the Hugging Face Hub ({settings.hub_endpoint()}) is not reachable.",
            "Check your network connection, or use models that are already cached ('modeldeck list').",
        )
