"""Where models come from: find a reference locally, or fetch it (``download``).

A model reference (``refs.ModelRef``) is a hub id (``org/name``, optional ``@revision``),
a local folder, or a hub id whose weights ship inside an installed Python package.
Everything resolves to a local folder before any model code runs, so the
loaders never touch the network themselves.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from . import settings
from .download import pull_one
from .errors import ModelNotAvailable, RevisionNotFound
from .online import is_offline, offline_hint
from .refs import PACKAGED, ModelRef, find_in_snapshot, packaged_path, split_subpath  # noqa: F401 - re-exported


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


_told: set[str] = set()


def _say_once(model_id: str, message: str) -> None:
    if model_id not in _told:
        _told.add(model_id)
        print(message, file=sys.stderr)


def resolve(model: str | ModelRef, allow_download: bool = True) -> ResolvedModel:
    """Find ``model`` on this machine, downloading it if online and allowed."""
    from .usage import record_use

    ref = model if isinstance(model, ModelRef) else ModelRef.parse(model)
    found = locate(ref, allow_download)
    if found is None:
        found = ResolvedModel(ref, pull_one(ref), "hub")
    elif found.source == "package":
        _say_once(
            ref.id,
            f"modeldeck: {ref.id} is not in the Hugging Face cache and the hub is not reachable; "
            f"using the copy shipped in the {PACKAGED[ref.id][2]!r} package.",
        )
    if found.source != "folder":
        record_use(found.id)  # 'last used' in 'modeldeck list'
    return found


def locate(ref: ModelRef, ask_hub: bool = True, unavailable: str = "") -> ResolvedModel | None:
    """Where ``ref`` is, looking in resolve's order: a folder, the cache, then (None) the hub when it is
    reachable and ``ask_hub``, then a package that ships it. Raises when it is nowhere; ``unavailable``
    ends that message (why the hub cannot be asked)."""
    if ref.path is not None:
        return ResolvedModel(ref, ref.path, "folder")
    cached = cached_snapshot(ref)
    if cached is not None:
        return ResolvedModel(ref, cached, "cache")
    offline = is_offline()
    if not offline and ask_hub:
        return None
    packaged = packaged_path(ref.id)
    if packaged is not None and ref.revision is None:
        return ResolvedModel(ref, packaged, "package")
    if ref.revision is not None and cached_snapshot(ModelRef(ref.id)) is not None:
        raise RevisionNotFound(
            f"{ref.id} is cached, but not at revision {ref.revision!r}.",
            offline_hint(str(ref)) if offline else "Check the revision name.",
        )
    why = "the hub is not reachable" if offline else "downloads are not allowed here"
    raise ModelNotAvailable(
        f"Model {ref} is not in the Hugging Face cache ({settings.hub_cache()}) and {why}{unavailable}.",
        offline_hint(str(ref)),
    )


def local_folder(ref: ModelRef) -> Path | None:
    """The model's folder on this machine (a folder, the cache, a package), without downloading it or
    counting it as used; None when it is not here."""
    found = ref.path or cached_snapshot(ref) or (packaged_path(ref.id) if ref.revision is None else None)
    return Path(found) if found is not None else None


def model_config(model: str | ModelRef) -> dict | None:
    """The model's config.json without fetching its weights: from a folder, the cache, a package, or
    (online) that one small file; None when it cannot be had cheaply."""
    import json

    ref = model if isinstance(model, ModelRef) else ModelRef.parse(model)
    folder = local_folder(ref)
    path = folder / "config.json" if folder is not None else None
    if path is None and not is_offline():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(ref.id, "config.json", revision=ref.revision))
        except Exception:  # noqa: BLE001 - no config to peek at: resolve() reports what is wrong
            return None
    try:
        config = json.loads(path.read_text()) if path is not None and path.is_file() else None
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None  # a list is a broken config: integrity names it


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

