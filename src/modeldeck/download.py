"""Download models into the standard Hugging Face cache, only the files needed.

``pull_one`` asks the hub for the repo's file list once, keeps only what a
PyTorch backend loads (safetensors over pickle, no TF/Flax/ONNX/Core ML
copies, no duplicate precision variants), then fetches each file into the
cache's ``blobs/`` + ``snapshots/<commit>/`` layout with a progress bar. A
file cut off half-way stays as ``blobs/<etag>.incomplete`` and the next pull
continues it with an HTTP Range request; finished blobs are checked against
their sha256 before they are linked into the snapshot.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import settings
from .errors import HubUnreachable, InvalidInput, ModeldeckError, ModelNotAvailable, RevisionNotFound
from .online import require_online
from .refs import REPO_ALIASES, ModelRef, find_in_snapshot, split_subpath

# Weight formats other frameworks use; never needed by a PyTorch backend.
FOREIGN_WEIGHTS = (
    "*.h5", "*.msgpack", "*.ckpt.index", "*.ot", "tf_model*", "flax_model*", "rust_model*", "*.tflite",
    "*.mlmodel", "*.mlpackage/*", "coreml/*", "onnx/*", "openvino/*", "*.onnx_data", "*.gguf", "*.ggml",
)
# Repo decoration a model does not need to run.
NOT_NEEDED = (".gitattributes", "*.png", "*.jpg", "*.jpeg", "*.gif", "*.webp", "*.mp4", "*.svg")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
# "x.fp16.safetensors", "x.non_ema.bin": precision/EMA copies of a file that also exists plain.
VARIANT = re.compile(r"^(?P<stem>.+?)\.(?:fp16|bf16|fp32|half|non_ema|ema)(?P<ext>\.(?:safetensors|bin))$")


def is_pickle_weights(name: str) -> bool:
    """A pickled weights file (which safetensors make unnecessary)."""
    base = name.rsplit("/", 1)[-1]
    return base.endswith((".pt", ".pth", ".pkl", ".ckpt")) or (base.endswith(".bin") and "model" in base)


def is_weights(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) and (name.endswith(".safetensors") or is_pickle_weights(name))


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(base, p) for p in patterns)


def files_to_fetch(filenames: list[str]) -> list[str]:
    """The repo files a PyTorch backend needs.

    Per folder: safetensors over pickle (a sentence-transformers ``2_Dense/``
    with only ``pytorch_model.bin`` keeps it), plain files over ``.fp16`` /
    ``.non_ema`` variants, no foreign formats; ONNX only when there is
    nothing else (Piper voices); for diffusers pipelines (``model_index.json``)
    the per-component folders, not the root single-file checkpoints.
    """
    names = set(filenames)
    torch_weights = [f for f in names if is_weights(f)]
    safetensors_dirs = {posixpath.dirname(f) for f in names if f.endswith(".safetensors")}
    diffusers = "model_index.json" in names
    chosen = []
    for name in filenames:
        folder, base = posixpath.split(name)
        if _matches(name, FOREIGN_WEIGHTS) or _matches(name, NOT_NEEDED):
            continue
        if name.endswith(".onnx") and torch_weights:
            continue
        if folder in safetensors_dirs and (is_pickle_weights(name) or base.endswith(".bin.index.json")):
            continue
        variant = VARIANT.match(base)
        if variant and posixpath.join(folder, variant["stem"] + variant["ext"]) in names:
            continue
        if diffusers and not folder and is_weights(name):
            continue
        chosen.append(name)
    return chosen


# -- plans --------------------------------------------------------------------------------


@dataclass
class PullPlan:
    """What pulling one model will fetch: the commit, the chosen files and their sizes."""

    ref: ModelRef
    commit: str
    files: dict[str, int | None]  # repo path -> size in bytes
    skipped: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(size or 0 for size in self.files.values())


def hub_api():
    from huggingface_hub import HfApi

    return HfApi(endpoint=settings.hub_endpoint())


def check_pullable(ref: ModelRef) -> None:
    if ref.path is not None:
        raise InvalidInput(f"{ref.id} is a local folder; there is nothing to pull.", "Give a hub id like 'org/name'.")


def network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a hub request can end in (huggingface_hub's HTTP client varies by version)."""
    import importlib

    from huggingface_hub.errors import HfHubHTTPError

    found: list[type[BaseException]] = [HfHubHTTPError, ConnectionError, TimeoutError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def hub_errors(ref: ModelRef, error: Exception) -> Exception:
    """Turn huggingface_hub / HTTP errors into modeldeck's, with a hint."""
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(error, GatedRepoError):
        return ModelNotAvailable(
            f"{ref.id} is gated on the hub: you need to accept its terms and log in.",
            "Accept the terms on its hub page, then run: hf auth login",
        )
    if isinstance(error, RevisionNotFoundError):
        return RevisionNotFound(f"{ref.id} has no revision {ref.revision!r} on the hub.", "Check the branch, tag or commit.")
    if isinstance(error, RepositoryNotFoundError):
        return ModelNotAvailable(
            f"No model {ref.id!r} on the hub (or it is private).",
            "Check the id on huggingface.co; for a private model, log in with: hf auth login",
        )
    again = "Try again later: run the same pull again, it continues where it stopped."
    if isinstance(error, HfHubHTTPError):
        status = getattr(getattr(error, "response", None), "status_code", "an error")
        said = (getattr(error, "server_message", None) or str(error).splitlines()[0]).strip()
        return HubUnreachable(f"The hub answered {status} while fetching {ref}: {said}", again)
    return HubUnreachable(f"Lost the connection to the hub while fetching {ref}: {error}", again)


def plan_pull(ref: ModelRef) -> PullPlan:
    """Ask the hub which files ``ref`` has and choose the ones to fetch (no download)."""
    check_pullable(ref)
    require_online(f"download {ref}")
    try:
        info = hub_api().model_info(split_subpath(ref.id)[0], revision=ref.revision, files_metadata=True)
    except ModeldeckError:
        raise
    except network_errors() as e:
        raise hub_errors(ref, e) from e
    sizes = {s.rfilename: s.size for s in info.siblings or ()}
    _, name = split_subpath(ref.id)
    if name:  # one model inside a repo of many (rhasspy/piper-voices/en_US-joe-medium): its folder only
        folders = {posixpath.dirname(f) for f in sizes if posixpath.basename(f).startswith(name + ".")}
        if not folders:
            raise ModelNotAvailable(f"No {name!r} in the hub repo {split_subpath(ref.id)[0]}.", "Check the name.")
        sizes = {f: size for f, size in sizes.items() if posixpath.dirname(f) in folders}
    if ref.id in REPO_ALIASES:  # dalle-mini/dalle-mini: only its files of kuprel/min-dalle
        sizes = {f: size for f, size in sizes.items() if f in REPO_ALIASES[ref.id][1]}
    chosen = files_to_fetch(list(sizes))
    return PullPlan(ref, info.sha, {name: sizes[name] for name in chosen}, sorted(set(sizes) - set(chosen)))


# -- downloading ------------------------------------------------------------------------------


def storage_folder(model_id: str) -> Path:
    return settings.hub_cache() / ("models--" + model_id.replace("/", "--"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _link(blob: Path, pointer: Path) -> None:
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(pointer.name + ".modeldeck-link")
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:  # no symlinks (Windows without developer mode): copy, as huggingface_hub does
        shutil.copyfile(blob, tmp)
    os.replace(tmp, pointer)


def fetch_file(repo_id: str, filename: str, commit: str, progress: bool = True) -> Path:
    """Fetch one repo file into the cache, continuing a cut-off download; returns its snapshot path."""
    from filelock import FileLock
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import get_hf_file_metadata, http_get
    from huggingface_hub.utils import build_hf_headers
    from huggingface_hub.utils import tqdm as hf_tqdm

    storage = storage_folder(repo_id)
    pointer = storage / "snapshots" / commit / filename
    if pointer.exists():
        return pointer
    endpoint = settings.hub_endpoint()
    meta = get_hf_file_metadata(hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint), endpoint=endpoint)
    if not meta.etag:
        raise HubUnreachable(f"The hub sent no ETag for {repo_id}/{filename}.", "Try again later.")
    blob = storage / "blobs" / meta.etag
    if not blob.exists():
        blob.parent.mkdir(parents=True, exist_ok=True)
        partial = blob.with_name(blob.name + ".incomplete")
        with FileLock(str(blob) + ".lock"):
            if not blob.exists():
                done = partial.stat().st_size if partial.exists() else 0
                if meta.size is not None and done > meta.size:
                    partial.unlink()
                    done = 0
                headers = build_hf_headers()
                headers["Accept-Encoding"] = "identity"
                with open(partial, "ab") as f:
                    http_get(
                        meta.location, f, resume_size=done, headers=headers, expected_size=meta.size,
                        displayed_filename=filename, tqdm_class=hf_tqdm if progress else _Silent,
                    )
                if re.fullmatch(r"[0-9a-f]{64}", meta.etag) and _sha256(partial) != meta.etag:
                    partial.unlink()
                    raise HubUnreachable(
                        f"{repo_id}/{filename} arrived corrupted (sha256 mismatch).", "Run the same pull again."
                    )
                os.replace(partial, blob)
        Path(str(blob) + ".lock").unlink(missing_ok=True)
    _link(blob, pointer)
    return pointer


class _Silent:
    """A progress bar that shows nothing (for pulls asked to be quiet)."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False

    def update(self, n=1):
        pass

    def close(self):
        pass


def fetch_files(ref: ModelRef, repo_id: str, files: dict[str, int | None], commit: str, progress: bool) -> None:
    """Fetch ``files`` (name -> size) of ``repo_id`` at ``commit``, resuming; hub failures named for ``ref``."""
    # Big files first, config.json last: a cut-off pull leaves no config, so nothing loads half a model.
    order = sorted(files, key=lambda name: (name == "config.json", -(files[name] or 0)))
    try:
        for file in order:
            fetch_file(repo_id, file, commit, progress=progress)
    except ModeldeckError:
        raise
    except network_errors() as e:
        raise hub_errors(ref, e) from e


def pull_one(ref: ModelRef | str, progress: bool = True, plan: PullPlan | None = None) -> Path:
    """Download ``ref`` (resuming partial downloads) and return its snapshot folder."""
    ref = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
    plan = plan or plan_pull(ref)
    repo_id, name = split_subpath(ref.id)
    fetch_files(ref, repo_id, plan.files, plan.commit, progress)
    revision = ref.revision or "main"
    if revision != plan.commit:
        refs = storage_folder(repo_id) / "refs" / revision
        refs.parent.mkdir(parents=True, exist_ok=True)
        if not refs.exists() or refs.read_text() != plan.commit:
            tmp = refs.with_name(refs.name + ".tmp")
            tmp.write_text(plan.commit)
            os.replace(tmp, refs)
    snapshot = storage_folder(repo_id) / "snapshots" / plan.commit
    return (find_in_snapshot(snapshot, name) or snapshot) if name else snapshot
