"""What one server serves and how much a request may ask for; fixed when the server starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_QUEUE = 64  # requests waiting per model before 503 (above a busy app's usual concurrency)
DEFAULT_MAX_BODY = 50 * 1024 * 1024

# OpenAI voice names: each maps to the default voice unless ``--voice NAME=MODEL[#SPEAKER]`` says otherwise.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


@dataclass(frozen=True)
class ServerConfig:
    """Served tasks, the API key, request limits and preloads (from ``modeldeck serve``'s options)."""

    tasks: tuple[str, ...] | None = None  # canonical task names; None: every registered task
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    queue_size: int = DEFAULT_QUEUE
    allow_urls: bool = False  # fetch http(s) URLs given as image / audio inputs
    preload: tuple[str, ...] = ()  # MODEL or TASK=MODEL
    voices: dict[str, str] = field(default_factory=dict)  # OpenAI voice name -> MODEL[#SPEAKER]
    retry_after: int = 1  # seconds suggested to a client refused with 503

    @classmethod
    def from_env(cls, **overrides) -> ServerConfig:
        """Defaults, with MODELDECK_API_KEY read from the environment when no key is given."""
        overrides.setdefault("api_key", (os.environ.get("MODELDECK_API_KEY") or "").strip() or None)
        return cls(**overrides)

    def serves(self, task: str) -> bool:
        return self.tasks is None or task in self.tasks
