"""When each model was last used, in modeldeck's own small state file.

``hub.resolve`` records a model each time it finds one; ``modeldeck list``
shows it. Kept in ``$MODELDECK_HOME/usage.json`` (default ~/.cache/modeldeck),
outside the Hugging Face cache. Failing to write it never stops a model.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from . import settings


def state_file() -> Path:
    return settings.modeldeck_home() / "usage.json"


def last_used() -> dict[str, float]:
    """Model id -> Unix time it was last resolved."""
    try:
        data = json.loads(state_file().read_text())
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(data: dict[str, float]) -> None:
    try:
        path = state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".usage-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def record_use(model_id: str, when: float | None = None) -> None:
    """Note that ``model_id`` was used now (best effort, atomic write)."""
    data = last_used()
    data[model_id] = time.time() if when is None else when
    _write(data)


def forget(model_id: str) -> None:
    """Drop ``model_id`` (after ``modeldeck rm``)."""
    data = last_used()
    if data.pop(model_id, None) is not None:
        _write(data)
