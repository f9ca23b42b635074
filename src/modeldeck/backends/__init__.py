"""How models are loaded: device and dtype choice, safety checks, quiet libraries."""

from __future__ import annotations

import os
from functools import cache


@cache
def quiet_libraries() -> None:
    """Silence per-load progress bars and info logs from transformers (shown again with MODELDECK_DEBUG=1)."""
    if os.environ.get("MODELDECK_DEBUG") == "1":
        return
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
