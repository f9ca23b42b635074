"""Cache integrity: cheap checks that a model folder's files are whole, and the repair when they are not.

``verify`` reads only what is cheap: each safetensors file's header (the file's size must be the
header's end plus the largest data offset), every JSON file, every link into ``blobs/``, the shards
a ``*.index.json`` names, a Piper voice's ``.onnx`` + ``.onnx.json`` pair and a CTranslate2
``model.bin``. ``check`` raises ``BrokenModel`` naming the broken files and the repair:
``modeldeck pull MODEL --force`` (re-fetches only those files), re-copying a folder of your own, or
reinstalling the package a packaged model ships in. ``broken_files`` / ``repair`` are that pull's
two steps. This module sits above refs and download (it asks them; they never ask it).
"""

from __future__ import annotations

import json
import os
import posixpath
import struct
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import settings
from .errors import BrokenModel
from .refs import PACKAGED, REPO_ALIASES, packaged_path, split_subpath

MiB = 1024**2
QUICK_JSON = 1 * MiB  # quick checks ('modeldeck list') look only at the ends of bigger JSON files
DEEP_JSON = 64 * MiB  # even a full check only looks at the ends of JSON this big (data, not configuration)
MAX_HEADER = 100 * MiB  # safetensors' own limit
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".ckpt")


@dataclass(frozen=True)
class Problem:
    """One broken file: its path inside the model folder and what is wrong with it."""

    file: str
    reason: str
    readable: bool = True  # False: not even its header can be read (missing, dangling, cut inside the header)

    def __str__(self) -> str:
        return f"{self.file} ({self.reason})"


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def _files(folder: Path) -> list[Path]:
    """Every file or link under ``folder``, skipping hidden folders (.git, .cache) and __pycache__."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def check_safetensors(path: Path) -> tuple[str, bool] | None:
    """What is wrong with a safetensors file (reason, header readable), or None: header and size only."""
    size = path.stat().st_size
    if size < 8:
        return f"truncated: {_bytes(size)}, too short for a safetensors header", False
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        if length > MAX_HEADER:
            return f"not a safetensors file (a header of {_bytes(length)})", False
        if 8 + length > size:
            return f"truncated inside its header: {_bytes(size)}, the header alone needs {_bytes(8 + length)}", False
        raw = f.read(length)
    try:
        header = json.loads(raw)
        ends = [info["data_offsets"][1] for name, info in header.items() if name != "__metadata__"]
        end = max((int(e) for e in ends), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "its header is not valid safetensors JSON", False
    expected = 8 + length + end
    if size < expected:
        return f"truncated: {_bytes(size)} of {_bytes(expected)}", True
    if size > expected:
        return f"{_bytes(size - expected)} longer than its header says", True
    return None


def check_json(path: Path, deep: bool = True) -> str | None:
    """What is wrong with a JSON file, or None (quick: only the ends of files over QUICK_JSON)."""
    size = path.stat().st_size
    if size == 0:
        return "empty"
    if size > (DEEP_JSON if deep else QUICK_JSON):
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
            f.seek(max(0, size - 64))
            tail = f.read().rstrip()
        if head[:1] not in (b"{", b"[") or tail[-1:] not in (b"}", b"]"):
            return "truncated or not JSON"
        return None
    data = path.read_bytes()
    try:
        json.loads(data)
    except json.JSONDecodeError as e:
        cut = not data.rstrip().endswith((b"}", b"]"))  # a file cut short stops mid-way
        what = "truncated, not valid JSON" if cut else "not valid JSON"
        return f"{what}: {e.msg.lower().removesuffix(' at')} at line {e.lineno}, column {e.colno}"
    except (ValueError, UnicodeDecodeError) as e:
        return f"not valid JSON: {e}"
    return None


def verify(folder: Path | str, deep: bool = True, model_id: str | None = None) -> list[Problem]:
    """The broken or missing files of a model folder, cheaply (headers, sizes, JSON, links, shards, and the
    files its backend reads: ``layouts``); [] when whole. ``model_id`` picks a variant where a folder holds
    several (min-dalle's mini and mega)."""
    folder = Path(folder)
    problems: dict[str, Problem] = {}

    def add(path: Path, reason: str, readable: bool = True) -> None:
        name = path.relative_to(folder).as_posix()
        problems.setdefault(name, Problem(name, reason, readable))

    files = _files(folder)
    for path in files:
        if not path.exists():
            if path.is_symlink():
                add(path, "dangling link: the blob it points to is missing", False)
            continue
        if not path.is_file():
            continue
        name = path.name
        try:
            if name.endswith(".safetensors"):
                found = check_safetensors(path)
                if found:
                    add(path, *found)
            elif name.endswith(".json"):
                reason = check_json(path, deep)
                if reason:
                    add(path, reason, not name.endswith(".index.json"))
            elif name.endswith(WEIGHTS):
                _check_binary(path, add)
        except OSError as e:
            add(path, f"cannot be read: {e.strerror or e}", False)
    _check_shards(folder, files, add)
    _check_companions(folder, files, add)
    if folder.is_dir():
        from .layouts import missing

        for name, reason in missing(folder, model_id):
            problems.setdefault(name, Problem(name, reason, False))
    return sorted(problems.values(), key=lambda p: p.file)


def _check_binary(path: Path, add) -> None:
    """Non-safetensors weights: not empty; a PyTorch zip checkpoint still has its end (zip directory)."""
    if path.stat().st_size == 0:
        add(path, "empty", False)
        return
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    if zipped and not zipfile.is_zipfile(path):
        add(path, "truncated: its zip directory is missing", False)


def _check_shards(folder: Path, files: list[Path], add) -> None:
    """Every shard a ``*.safetensors.index.json`` (or, with no safetensors beside it, ``*.bin.index.json``) names
    is there."""
    for index in files:
        if not index.name.endswith((".safetensors.index.json", ".bin.index.json")) or not index.is_file():
            continue
        if index.name.endswith(".bin.index.json") and any(index.parent.glob("*.safetensors")):
            continue  # safetensors chosen over pickle here; the pickle shards were never fetched
        try:
            weight_map = json.loads(index.read_bytes()).get("weight_map") or {}
            shards = {str(s) for s in weight_map.values()}
        except (OSError, ValueError, AttributeError):
            continue  # reported as invalid JSON already
        for shard in sorted(shards):
            path = index.parent / shard
            if not path.exists() and not path.is_symlink():
                add(path, f"missing: {index.name} names it", False)


def _check_companions(folder: Path, files: list[Path], add) -> None:
    """A Piper voice's .onnx beside its .onnx.json; a CTranslate2 model's model.bin beside its vocabulary."""
    names = set(files)
    for path in files:
        if path.name.endswith(".onnx.json"):
            onnx = path.with_name(path.name[: -len(".json")])
            if onnx not in names:
                add(onnx, f"missing: the voice's {path.name} is there but not its model", False)
    for parent in {p.parent for p in files if p.name.startswith("vocabulary.")}:
        model = parent / "model.bin"
        weights = [p for p in files if p.parent == parent and p.name.endswith(WEIGHTS)]
        if not weights:  # a vocabulary and no weights at all: CTranslate2's model.bin is what is missing
            add(model, "missing: the CTranslate2 model has a vocabulary but no model.bin", False)


# -- what to do about it -------------------------------------------------------------------------


def _source(model_id: str, folder: Path) -> tuple[str, str]:
    """("cache", hub id to pull) / ("package", pip name) / ("folder", path) for a model folder."""
    folder = Path(folder).resolve()
    cache = settings.hub_cache().resolve()
    if folder.is_relative_to(cache):
        parts = folder.relative_to(cache).parts
        if parts and parts[0].startswith("models--"):
            repo_id = parts[0][len("models--") :].replace("--", "/")
            own = model_id.split("@")[0]  # a voice inside a repo of many, or an aliased id, is pulled by its own id
            model = own if own in REPO_ALIASES or own == repo_id or own.startswith(repo_id + "/") else repo_id
            if len(parts) > 2 and parts[1] == "snapshots":
                main = cache / parts[0] / "refs" / "main"
                try:
                    pinned = main.read_text().strip() != parts[2]
                except OSError:
                    pinned = True
                if pinned:  # not the revision 'main' names: repair that very commit
                    model = f"{model}@{parts[2]}"
            return "cache", model
    if model_id in PACKAGED:
        packaged = packaged_path(model_id)
        if packaged is not None and folder.is_relative_to(packaged.resolve()):
            return "package", PACKAGED[model_id][2]
    return "folder", str(folder)


# How a broken model is repaired, by where it comes from (``_source``): the one thing to run (or do), and the
# hint that says it in an error. {what}: the hub id to pull, the pip package, or the folder.
REPAIRS = {
    "cache": ("modeldeck pull {what} --force", "Repair it (re-fetches only the broken files): {command}"),
    "package": ("pip install --force-reinstall {what}", "It ships in the {what!r} package; reinstall that: {command}"),
    "folder": ("copy or download the folder {what} again",
               "It is a folder of your own: copy or download it again ({what})."),
}


def repair_command(model_id: str, folder: Path) -> str:
    """The one thing to run (or do) to repair a broken model."""
    kind, what = _source(model_id, folder)
    return REPAIRS[kind][0].format(what=what)


def repair_hint(model_id: str, folder: Path) -> str:
    """The repair, said as an error's hint."""
    kind, what = _source(model_id, folder)
    command, hint = REPAIRS[kind]
    return hint.format(what=what, command=command.format(what=what))


def describe(problems: list[Problem], limit: int = 4) -> str:
    shown = ", ".join(str(p) for p in problems[:limit])
    return shown + (f" and {len(problems) - limit} more" if len(problems) > limit else "")


def broken_error(model_id: str, folder: Path, problems: list[Problem]) -> BrokenModel:
    return BrokenModel(
        f"{model_id} is broken on this machine: {describe(problems)} (in {folder}).", repair_hint(model_id, folder)
    )


def check(folder: Path | str, model_id: str) -> None:
    """Raise BrokenModel naming the broken files and the repair, before anything loads them."""
    problems = verify(folder, model_id=model_id)
    if problems:
        raise broken_error(model_id, Path(folder), problems)


def broken_verdict(folder: Path, model_id: str) -> str | None:
    """For ``estimate``: None when the local copy it reads (``folder``) is whole; else the verdict
    'broken: FILE; run REPAIR'. Raises BrokenModel when not even the weights' headers can be read."""
    problems = verify(folder, model_id=model_id)
    if not problems:
        return None
    if any(not p.readable for p in problems if p.file.endswith(WEIGHTS)):
        raise broken_error(model_id, folder, problems)
    return f"broken: {describe(problems, 2)}; run {repair_command(model_id, folder)}"


# -- every model on this machine (doctor --verify) ------------------------------------------------


@dataclass
class Checked:
    """One model folder checked: where, what to run to repair it, and its problems ([] when whole)."""

    model: str
    source: str  # "cache" or "package"
    path: str
    problems: list[Problem] = field(default_factory=list)
    fix: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "problems": [str(p) for p in self.problems]}


def verify_all(deep: bool = True) -> list[Checked]:
    """Every cached snapshot (every revision) and every packaged model, verified."""
    found = []
    cache = settings.hub_cache()
    for repo in sorted(cache.glob("models--*")) if cache.is_dir() else ():
        repo_id = repo.name[len("models--") :].replace("--", "/")
        for snapshot in sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else ():
            if snapshot.is_dir():
                found.append(_checked(repo_id, "cache", snapshot, deep))
    for model_id in PACKAGED:
        path = packaged_path(model_id)
        if path is not None:
            found.append(_checked(model_id, "package", path, deep))
    from .runtimes import stored_graphs

    for graph in stored_graphs():  # ONNX / CTranslate2 graphs modeldeck made and stored
        problems = [Problem(p.split(" (", 1)[0], p.split(" (", 1)[1].rstrip(")"), False) for p in graph["broken"]]
        fix = f"rm -r {graph['path']}  (the next run with --runtime makes it again)" if problems else ""
        found.append(Checked(graph["model"], "compiled", graph["path"], problems, fix))
    return found


def _checked(model_id: str, source: str, folder: Path, deep: bool) -> Checked:
    problems = verify(folder, deep, model_id)
    return Checked(model_id, source, str(folder), problems, repair_command(model_id, folder) if problems else "")


# -- repairing (pull --force) -------------------------------------------------------------------


def broken_files(ref, plan) -> tuple[dict[str, str], list[str]]:
    """The files of ``ref``'s cached snapshot at ``plan.commit`` that are broken or missing (repo path -> why),
    judged by ``verify`` and the sizes the hub gives; and the broken files the hub does not have.

    Nothing is listed when that commit is not cached at all: a plain pull fetches it whole.
    """
    from .download import storage_folder

    repo_id, name = split_subpath(ref.id)
    snapshot = storage_folder(repo_id) / "snapshots" / plan.commit
    if not snapshot.is_dir():
        return {}, []
    found: dict[str, str] = {}
    for file, size in plan.files.items():
        pointer = snapshot / file
        if pointer.is_symlink() and not pointer.exists():
            found[file] = "dangling link: the blob it points to is missing"
        elif not pointer.exists():
            found[file] = "missing"
        elif size is not None and pointer.is_file() and pointer.stat().st_size != size:
            found[file] = f"{pointer.stat().st_size:,} bytes, the hub has {size:,}"
    folders = {posixpath.dirname(f) for f in plan.files}
    on_hub = set(plan.files) | set(plan.skipped)
    stray = []
    for problem in verify(snapshot):
        if name and posixpath.dirname(problem.file) not in folders:
            continue  # another model in a repo of many
        if problem.file in on_hub:
            found.setdefault(problem.file, problem.reason)
        else:
            stray.append(str(problem))
    return found, stray


def repair(ref, plan, broken: dict[str, str], progress: bool = True) -> None:
    """Drop the broken files' links and blobs from the cache and fetch them again (only those files)."""
    from .download import fetch_files, storage_folder

    repo_id, _ = split_subpath(ref.id)
    storage = storage_folder(repo_id)
    snapshot = storage / "snapshots" / plan.commit
    blobs = os.path.realpath(storage / "blobs")
    for file in broken:
        pointer = snapshot / file
        if pointer.is_symlink():
            blob = os.path.realpath(pointer)
            if os.path.dirname(blob) == blobs and os.path.isfile(blob):
                os.unlink(blob)  # its content is what is broken: fetch_file would keep a blob it finds
        if pointer.is_symlink() or pointer.is_file():
            pointer.unlink()
    fetch_files(ref, repo_id, {name: plan.files.get(name) for name in broken}, plan.commit, progress)
