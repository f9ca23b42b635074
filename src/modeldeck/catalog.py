"""The models on this machine: cached and packaged, what each serves, and removing them.

``list_models`` reads the Hugging Face cache with huggingface_hub's own
``scan_cache_dir`` and adds the models that ship inside installed packages;
``removal_plan`` / ``remove`` delete cached revisions through
huggingface_hub's ``DeleteCacheStrategy``, after checking that every path it
would delete lies inside the cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import settings
from .errors import InvalidInput, ModelNotAvailable, RevisionNotFound
from .heads import tasks_of_architecture
from .refs import PACKAGED, ModelRef, packaged_path

DIFFUSERS = {
    "StableDiffusionPipeline": ("text-to-image", "image-to-image"),
    "StableDiffusionInpaintPipeline": ("inpainting",),
}


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def architectures(folder: Path) -> list[str]:
    return list(_json(folder / "config.json").get("architectures") or ())


def has_chat_template(folder: Path | None) -> bool:
    """Whether the model's tokenizer has a chat template: in tokenizer_config.json, or a file of its own where
    transformers looks (chat_template.jinja or .json, chat_templates/)."""
    if folder is None:
        return False
    own = ("chat_template.jinja", "chat_template.json")
    return bool(_json(folder / "tokenizer_config.json").get("chat_template")) or \
        any((folder / name).is_file() for name in own) or any((folder / "chat_templates").glob("*.jinja"))


def _kinds(folder: Path) -> set[str]:
    """Task names a model folder serves, judged from its files."""
    found: set[str] = set()
    for arch in architectures(folder):
        found.update(tasks_of_architecture(arch))
    config = _json(folder / "config.json")
    labels = config.get("label2id") if isinstance(config.get("label2id"), dict) else {}
    if any(str(name).lower().startswith("entail") for name in labels):  # an NLI classifier: zero-shot works
        found.add("zero-shot-classification")
    if isinstance(config.get("sentence_transformers"), dict) and config.get("num_labels", len(labels)) == 1:
        found.add("text-ranking")  # a sentence-transformers cross-encoder with one score: a reranker
    if "text-generation" in found and has_chat_template(folder):  # an instruct model: it chats too
        found.add("chat")
    if (folder / "modules.json").is_file() or (folder / "config_sentence_transformers.json").is_file():
        found.update(("feature-extraction", "sentence-similarity"))
    pipeline = _json(folder / "model_index.json").get("_class_name")
    if pipeline:
        found.update(DIFFUSERS.get(pipeline, ()))
    if (folder / "model.bin").is_file() and any(folder.glob("vocabulary.*")):  # CTranslate2 Whisper
        found.add("automatic-speech-recognition")
    if any(folder.rglob("*.onnx.json")):  # Piper voices
        found.add("text-to-speech")
    return found


def tasks_for(model_id: str, folder: Path | None) -> list[str]:
    """The registered tasks ``model_id`` serves: it is their default, or its architecture fits them."""
    from .hub import cached_snapshot
    from .pipelines import aliases, registry

    tasks = registry()
    served = {name for name, task in tasks.items() if model_id in (task.spec.default_model, task.spec.offline_default)}
    if folder is not None and folder.is_dir():
        kinds = _kinds(folder)
        served.update(aliases().get(k, k) for k in kinds)
        mine = set(architectures(folder))
        if mine:  # same architecture class as a task's default model
            for name, task in tasks.items():
                default = cached_snapshot(ModelRef(task.spec.default_model))
                if default is not None and mine & set(architectures(default)):
                    served.add(name)
    return [name for name in tasks if name in served]


# -- listing -----------------------------------------------------------------------------------


@dataclass
class ModelEntry:
    id: str
    source: str  # "cache" or "package"
    revision: str  # short commit (cache) or "package-name version"
    size_bytes: int
    tasks: list[str]
    last_used: float | None
    path: str
    refs: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)  # every cached commit
    broken: list[str] = field(default_factory=list)  # "file (what is wrong)", from a quick integrity check
    repair: str = ""  # the command that repairs a broken model

    @property
    def status(self) -> str:
        return "broken" if self.broken else "ok"

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status}


def scan_cache():
    """huggingface_hub's view of the cache (None when there is no cache folder yet)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    cache = settings.hub_cache()
    if not cache.is_dir():
        return None
    try:
        return scan_cache_dir(cache)
    except CacheNotFound:
        return None


def _main_revision(repo):
    revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
    for revision in revisions:
        if "main" in revision.refs:
            return revision
    return revisions[0] if revisions else None


def model_tasks() -> dict[str, list[str]]:
    """Each model on this machine (cached or packaged) and the tasks it serves: quick (no sizes, no integrity
    checks), for the web UI's model pickers."""
    found: dict[str, list[str]] = {}
    info = scan_cache()
    for repo in sorted(info.repos if info else (), key=lambda r: r.repo_id):
        revision = _main_revision(repo) if repo.repo_type == "model" else None
        if revision is not None:
            found[repo.repo_id] = tasks_for(repo.repo_id, Path(revision.snapshot_path))
    for model_id in PACKAGED:
        folder = packaged_path(model_id)
        if folder is not None and model_id not in found:
            found[model_id] = tasks_for(model_id, folder)
    from .refs import REPO_ALIASES

    for alias, (repo, files) in REPO_ALIASES.items():  # DALL·E Mini / Mega, from the min-dalle port's repo
        revision = next((_main_revision(r) for r in (info.repos if info else ()) if r.repo_id == repo), None)
        if revision is not None and all((Path(revision.snapshot_path) / f).is_file() for f in files):
            found[alias] = ["text-to-image"]
    return found


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def list_models() -> list[ModelEntry]:
    """Cached models (every model repo in the Hugging Face cache), then packaged ones."""
    from importlib.metadata import PackageNotFoundError, version

    from .usage import last_used

    used = last_used()
    entries = []
    info = scan_cache()
    for repo in sorted(info.repos if info else (), key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        main = _main_revision(repo)
        snapshot = Path(main.snapshot_path) if main else None
        entries.append(
            _checked(ModelEntry(
                id=repo.repo_id, source="cache", revision=main.commit_hash[:12] if main else "?",
                size_bytes=repo.size_on_disk, tasks=tasks_for(repo.repo_id, snapshot),
                last_used=_last_used(used, repo.repo_id), path=str(repo.repo_path),
                refs=sorted(ref for r in repo.revisions for ref in r.refs),
                revisions=sorted(r.commit_hash for r in repo.revisions),
            ), snapshot)
        )
    scanned = {Path(r.repo_path).name for r in (info.repos if info else ())}
    entries += [_unscannable(repo, used) for repo in _model_repos() if repo.name not in scanned]
    entries.sort(key=lambda e: e.id.lower())
    for model_id, (_, _, package) in PACKAGED.items():
        path = packaged_path(model_id)
        if path is None:
            continue
        try:
            revision = f"{package} {version(package)}"
        except PackageNotFoundError:
            revision = package
        entries.append(
            _checked(ModelEntry(
                id=model_id, source="package", revision=revision, size_bytes=folder_size(path),
                tasks=tasks_for(model_id, path), last_used=_last_used(used, model_id), path=str(path),
            ), path)
        )
    return entries


def _checked(entry: ModelEntry, folder: Path | None) -> ModelEntry:
    """Fill in ``broken`` / ``repair`` from a quick integrity check (headers and sizes, not whole big files)."""
    from .integrity import repair_command, verify

    if folder is not None and folder.is_dir():
        problems = verify(folder, deep=False)
        entry.broken = [str(p) for p in problems]
        entry.repair = repair_command(entry.id, folder) if problems else ""
    return entry


def _model_repos() -> list[Path]:
    cache = settings.hub_cache()
    return sorted(p for p in cache.glob("models--*") if p.is_dir()) if cache.is_dir() else []


def _unscannable(repo: Path, used: dict[str, float]) -> ModelEntry:
    """A cached repo huggingface_hub's scan skips (a link to a missing blob): listed, as broken."""
    repo_id = repo.name[len("models--") :].replace("--", "/")
    snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    try:
        main = (repo / "refs" / "main").read_text().strip()
    except OSError:
        main = snapshots[-1].name if snapshots else ""
    snapshot = repo / "snapshots" / main
    entry = _checked(ModelEntry(
        id=repo_id, source="cache", revision=main[:12] or "?", size_bytes=folder_size(repo / "blobs"),
        tasks=tasks_for(repo_id, snapshot), last_used=_last_used(used, repo_id), path=str(repo),
        refs=["main"] if (repo / "refs" / "main").is_file() else [], revisions=[p.name for p in snapshots],
    ), snapshot)
    if not entry.broken:
        entry.broken = ["the cache scan could not read this repo"]
        entry.repair = f"modeldeck pull {repo_id} --force"
    return entry


def _last_used(used: dict[str, float], repo_id: str) -> float | None:
    times = [t for model, t in used.items() if model == repo_id or model.startswith(repo_id + "/")]
    return max(times) if times else None


# -- removing ----------------------------------------------------------------------------------


@dataclass
class Removal:
    """What ``rm`` would delete for one model, and how much space that frees."""

    ref: ModelRef
    repo_path: Path
    revisions: list[str]
    whole_repo: bool
    freed_bytes: int = 0
    strategy: object = None


def removal_plan(model: str) -> Removal:
    """What removing ``model`` (optionally ``@revision``) from the cache would delete; nothing is deleted."""
    ref = ModelRef.parse(model)
    if ref.path is not None:
        raise InvalidInput(
            f"{ref.id} is a folder of your own, not a cached model; modeldeck rm only removes models from the "
            "Hugging Face cache.",
            "Delete the folder yourself if you mean to.",
        )
    info = scan_cache()
    repo = next((r for r in (info.repos if info else ()) if r.repo_id == ref.id and r.repo_type == "model"), None)
    if repo is None:
        if ref.id in PACKAGED:
            raise InvalidInput(
                f"{ref.id} is not in the cache: it ships inside the {PACKAGED[ref.id][2]!r} package, which "
                "modeldeck never removes.",
                f"To remove it, uninstall the package: pip uninstall {PACKAGED[ref.id][2]}",
            )
        raise ModelNotAvailable(
            f"{ref.id} is not in the Hugging Face cache ({settings.hub_cache()}), so there is nothing to remove.",
            "'modeldeck list' shows the cached models.",
        )
    revisions = sorted(repo.revisions, key=lambda r: r.commit_hash)
    if ref.revision:
        chosen = [
            r for r in revisions
            if ref.revision in r.refs or (len(ref.revision) >= 7 and r.commit_hash.startswith(ref.revision))
        ]
        if not chosen:
            names = sorted({*(ref for r in revisions for ref in r.refs), *(r.commit_hash[:12] for r in revisions)})
            raise RevisionNotFound(
                f"{ref.id} is cached, but not at revision {ref.revision!r}.",
                f"Cached revisions: {', '.join(names)}.",
            )
    else:
        chosen = revisions
    # Only this repo's view of the cache: huggingface_hub matches revisions by commit hash across every
    # repo, and two repos can share a hash (gpt2 and openai-community/gpt2 are one repo under two names).
    strategy = dataclasses.replace(info, repos=frozenset({repo})).delete_revisions(*(r.commit_hash for r in chosen))
    check_inside_repo(strategy, Path(repo.repo_path))
    return Removal(
        ref, Path(repo.repo_path), [r.commit_hash for r in chosen], len(chosen) == len(revisions),
        strategy.expected_freed_size, strategy,
    )


def check_inside_repo(strategy, repo_path: Path) -> None:
    """Refuse a deletion that would touch any path outside the named repo's folder of the cache."""
    cache = os.path.realpath(settings.hub_cache())  # scan_cache_dir resolves links too
    root = os.path.realpath(repo_path)
    if os.path.commonpath([cache, root]) != cache or root == cache:
        raise InvalidInput(f"Refusing to delete {root}: it is not inside the cache {cache}.")
    paths = [*strategy.blobs, *strategy.refs, *strategy.repos, *strategy.snapshots]
    for path in paths:
        path = os.path.abspath(path)
        if os.path.commonpath([root, path]) != root:
            raise InvalidInput(f"Refusing to delete {path}: it is not inside {root}, the folder of the model named.")


def remove(removal: Removal) -> int:
    """Delete what ``removal`` planned; returns the bytes freed."""
    from .usage import forget

    removal.strategy.execute()
    if removal.whole_repo:
        forget(removal.ref.id)
    return removal.freed_bytes
