"""Export tasks as a Hugging Face Space: README.md (front matter), app.py, requirements.txt,
and packages.txt (Debian packages the Space installs with apt) where a task needs one.

The Space carries its own copy of the modeldeck package (so it needs nothing
that is not on PyPI) and pins every requirement to the version installed here,
the versions this UI was tested with. On ZeroGPU hardware, each task's work is
wrapped in ``spaces.GPU``; where the ``spaces`` package is absent (a laptop, a
CPU Space) app.py runs unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from ..errors import InvalidInput
from ..spec import TaskSpec

APP_TEMPLATE = '''\
"""A Hugging Face Space made by `modeldeck space export`: {tasks_text}.

Run it locally with `python app.py` (GRADIO_SERVER_PORT picks the port).
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:  # ZeroGPU: run each task's work on a GPU lent for the call
    import spaces
except ImportError:  # not on a ZeroGPU Space: run unchanged
    spaces = None

from modeldeck.ui.app import build_app, theme

TASKS = {tasks!r}

# Seconds of GPU each call may hold (None: spaces.GPU's default, 60 s); image generation asks for more.
GPU_SECONDS = {gpu_seconds!r}


def gpu(fn):
    return spaces.GPU(duration=GPU_SECONDS)(fn) if GPU_SECONDS else spaces.GPU(fn)


demo = build_app(TASKS, gpu=gpu if spaces is not None else None, title={title!r})

if __name__ == "__main__":
    # No one-at-a-time limit: each model's engine queues its own device work (spaces.GPU on ZeroGPU).
    demo.queue(default_concurrency_limit=None).launch(theme=theme(), ssr_mode=False, share=False)
'''

README_TEMPLATE = """\
---
{front_matter}
---

# {title}

{summary}

Made with `modeldeck space export`; it runs these tasks:

{task_lines}

The app is a Gradio app (`app.py`) built from modeldeck's task specs. The
`modeldeck/` folder is a copy of the modeldeck package, so the Space installs
only what `requirements.txt` pins. On ZeroGPU hardware each task's work runs
inside `spaces.GPU`; elsewhere it runs on the CPU or the Space's GPU as is.

Run it on your own machine:

```
pip install -r requirements.txt
python app.py
```
"""

# Extras of modeldeck's pyproject a task needs, beyond the core requirements and the UI.
BACKEND_EXTRAS = {"faster-whisper": "speech", "piper": "speech", "diffusers": "diffusion"}
MODALITY_EXTRAS = {"audio": "speech", "vision": "vision", "multimodal": "vision"}
# System (apt) packages a task's default model needs; Spaces install those listed in packages.txt.
# text-to-speech: kakao-enterprise/vits-ljs phonemizes with phonemizer, which calls the espeak-ng library.
SYSTEM_PACKAGES = {"text-to-speech": ("espeak-ng",)}
# spaces.GPU durations for tasks that need more than its default 60 s per call: Stable Diffusion v1.4 in fp16
# runs ~10-20 steps/s on a ZeroGPU slice, so up to the 500-step limit plus a first-call model load fits in 120 s.
GPU_SECONDS = {"text-to-image": 120, "image-to-image": 120, "inpainting": 120}
# Never pinned into a Space: test tools, and packages the Space image provides.
SKIP = {"spaces"}


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def requirement_name(line: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", line.strip(), maxsplit=1)[0]


def declared_requirements() -> tuple[list[str], dict[str, list[str]]]:
    """modeldeck's core requirements and extras: from pyproject.toml in a source checkout
    (always current), else from the installed package's metadata."""
    import modeldeck

    pyproject = Path(modeldeck.__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == "modeldeck":
            return list(project.get("dependencies", [])), dict(project.get("optional-dependencies", {}))
    core, extras = [], {}
    try:
        lines = metadata.requires("modeldeck") or []
    except metadata.PackageNotFoundError:
        lines = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([\w-]+)["']""", marker)
        if extra is None:
            core.append(requirement.strip())
        else:
            extras.setdefault(extra.group(1), []).append(requirement.strip())
    return core, extras


def modeldeck_requirements(wanted: set[str]) -> list[str]:
    """modeldeck's requirements for the core and the ``wanted`` extras."""
    core, extras = declared_requirements()
    chosen = list(core)
    for extra in sorted(wanted):
        chosen += [r for r in extras.get(extra, []) if not r.startswith("modeldeck")]
    return chosen


def pinned_requirements(specs: list[TaskSpec]) -> list[str]:
    """requirements.txt lines: every package the tasks need, pinned to the installed version."""
    extras = {"ui"}
    for spec in specs:
        extras.add(MODALITY_EXTRAS.get(spec.modality, ""))
        extras.add(BACKEND_EXTRAS.get(spec.backend, ""))
    extras.discard("")
    wanted = modeldeck_requirements(extras) or ["torch", "transformers", "huggingface_hub", "gradio"]
    lines, seen = [], set()
    for requirement in wanted:
        name = requirement_name(requirement)
        key = name.lower().replace("_", "-")
        if key in seen or key in SKIP:
            continue
        seen.add(key)
        version = installed_version(name)
        if version is None:
            lines.append(requirement)  # not installed here: keep modeldeck's lower bound
        else:
            lines.append(f"{name}=={version.split('+')[0]}")  # 2.13.0+cpu -> 2.13.0
    return sorted(lines, key=str.lower)


def system_packages(specs: list[TaskSpec]) -> list[str]:
    """packages.txt lines: the apt packages the tasks need (none for most)."""
    return sorted({package for spec in specs for package in SYSTEM_PACKAGES.get(spec.name, ())})


def front_matter(specs: list[TaskSpec], title: str) -> str:
    """The Spaces YAML front matter (strings JSON-quoted: valid YAML)."""
    import gradio

    models = sorted({s.default_model for s in specs} | {s.offline_default for s in specs if getattr(s, "offline_default", None)})
    models = [m for m in models if m.count("/") == 1]  # the card's `models:` takes repo ids
    short = ", ".join(s.name for s in specs)
    short = short if len(short) <= 60 else short[:57] + "..."
    lines = [
        f"title: {json.dumps(title)}",
        "emoji: 🧰",
        "colorFrom: indigo",
        "colorTo: blue",
        "sdk: gradio",
        f"sdk_version: {json.dumps(gradio.__version__)}",
        'python_version: "3.11"',
        "app_file: app.py",
        "pinned: false",
        "license: apache-2.0",
        f"short_description: {json.dumps(short)}",
    ]
    if models:
        lines.append("models:")
        lines += [f"  - {json.dumps(m)}" for m in models]
    lines.append("tags:")
    lines += [f"  - {json.dumps(s.name)}" for s in specs]
    return "\n".join(lines)


def copy_package(target: Path) -> None:
    """Copy the modeldeck package (sources and bundled example media) into ``target``."""
    import modeldeck

    source = Path(modeldeck.__file__).parent
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))


def export_space(tasks: Iterable[str], out: Path, *, title: str | None = None, force: bool = False) -> Path:
    """Write a Space for ``tasks`` into ``out``; return the folder."""
    from .app import select_specs

    tasks = list(tasks)
    if not tasks:
        raise InvalidInput("Name at least one task to export.", "Run 'modeldeck tasks' to see them.")
    specs = select_specs(tasks)  # unknown names fail here, with a suggestion
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file, not a folder.", "Give --out a folder path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InvalidInput(f"{out} is not empty.", "Choose an empty folder, or add --force to overwrite it.")
    out.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in specs]
    title = title or ("modeldeck: " + ", ".join(names) if len(names) <= 3 else f"modeldeck: {len(names)} tasks")

    package = out / "modeldeck"
    if package.exists():
        shutil.rmtree(package)
    copy_package(package)
    seconds = max((GPU_SECONDS.get(name, 0) for name in names), default=0) or None
    (out / "app.py").write_text(
        APP_TEMPLATE.format(tasks=names, tasks_text=", ".join(names), title=title, gpu_seconds=seconds)
    )
    (out / "requirements.txt").write_text("\n".join(pinned_requirements(specs)) + "\n")
    packages = system_packages(specs)
    if packages:
        (out / "packages.txt").write_text("\n".join(packages) + "\n")
    elif (out / "packages.txt").is_file():  # re-exported (--force) without the task that needed it
        (out / "packages.txt").unlink()
    task_lines = "\n".join(f"- `{s.name}`: {s.summary} (default model `{s.default_model}`)" for s in specs)
    (out / "README.md").write_text(
        README_TEMPLATE.format(
            front_matter=front_matter(specs, title),
            title=title,
            summary="Open-source Hugging Face models behind a small web UI.",
            task_lines=task_lines,
        )
    )
    return out
