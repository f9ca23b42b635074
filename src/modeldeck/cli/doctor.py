"""``modeldeck doctor``: what this machine has, and what each task still needs."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys

import click

# Python packages by role: (import name, pip name, modeldeck extra).
CORE = [("torch", "torch", None), ("transformers", "transformers", None), ("huggingface_hub", "huggingface_hub", None),
        ("safetensors", "safetensors", None), ("tokenizers", "tokenizers", None),
        ("sentence_transformers", "sentence-transformers", None)]
OPTIONAL = [("faster_whisper", "faster-whisper", "speech"), ("piper", "piper-tts", "speech"),
            ("soundfile", "soundfile", "speech"), ("librosa", "librosa", "speech"),
            ("diffusers", "diffusers", "diffusion"), ("accelerate", "accelerate", "diffusion"),
            ("gradio", "gradio", "ui"), ("fastapi", "fastapi", "server"), ("uvicorn", "uvicorn", "server"),
            ("onnxruntime", "onnxruntime", "fast"), ("onnx", "onnx", "fast"), ("onnxscript", "onnxscript", "fast"),
            ("ctranslate2", "ctranslate2", "fast")]
# What a task's backend needs beyond the core, and what audio inputs need.
BACKEND_NEEDS = {
    "faster-whisper": [("faster_whisper", "faster-whisper", "speech")],
    "piper": [("piper", "piper-tts", "speech")],
    "diffusers": [("diffusers", "diffusers", "diffusion"), ("accelerate", "accelerate", "diffusion")],
}
AUDIO_NEEDS = [("soundfile", "soundfile", "speech"), ("librosa", "librosa", "speech")]


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def version_of(pip_name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pip_name)
    except PackageNotFoundError:
        return None


def task_status(spec) -> dict:
    """Whether ``spec`` runs here now: its packages, and its default model (or offline stand-in)."""
    from ..hub import cached_snapshot, packaged_path
    from ..integrity import repair_command, verify
    from ..refs import ModelRef

    needs = list(BACKEND_NEEDS.get(spec.backend, []))
    if any(i.kind == "audio" for i in spec.inputs):
        needs += AUDIO_NEEDS
    missing = [(pip, extra) for module, pip, extra in dict.fromkeys(needs) if not installed(module)]
    row = {"task": spec.name, "default_model": spec.default_model, "model_source": None, "missing_packages": []}
    if missing:
        extras = sorted({extra for _, extra in missing if extra})
        row["missing_packages"] = [pip for pip, _ in missing]
        row["status"] = "install"
        row["fix"] = f"pip install 'modeldeck[{','.join(extras)}]'" if extras else f"pip install {' '.join(row['missing_packages'])}"
    folder = None
    for model in filter(None, (spec.default_model, spec.offline_default)):
        ref = ModelRef.parse(model)
        folder = cached_snapshot(ref)
        if folder is not None:
            row["model_source"] = "cache" if model == spec.default_model else f"cache ({model}, offline stand-in)"
            break
        folder = packaged_path(ref.id)
        if folder is not None:
            row["model_source"] = "package" if model == spec.default_model else f"package ({model}, offline stand-in)"
            break
    problems = verify(folder, deep=False, model_id=ref.id) if folder is not None else []
    if problems and "status" not in row:  # a broken model is not "ready"
        row["status"], row["fix"] = "broken", repair_command(ref.id, folder)
        row["broken"] = [str(p) for p in problems]
    if "status" not in row:
        if row["model_source"]:
            row["status"], row["fix"] = "ready", ""
        else:
            row["status"], row["fix"] = "pull", f"modeldeck pull {spec.default_model}"
    return row


def runtimes_status() -> dict:
    """The CPU fast paths: which are installed, the runtime asked for, threads, and the stored graphs."""
    from .. import runtimes

    return {
        "requested": os.environ.get("MODELDECK_RUNTIME") or "auto",
        "installed": {name: runtimes.installed(name) for name in ("onnx", "ctranslate2")},
        "threads": runtimes.cpu_threads(),
        "stored": runtimes.stored_graphs(),
    }


def _is_dotfile(warning) -> bool:
    """scan_cache_dir warns about lock files beside the repos; those are not problems."""
    return str(warning).rsplit(": ", 1)[-1].rsplit("/", 1)[-1].startswith(".")


def gather(probe_hub: bool = True, verify: bool = False) -> dict:
    import psutil

    from .. import __version__, settings
    from ..catalog import scan_cache
    from ..integrity import verify_all
    from ..online import hub_reachable
    from ..memory import gpu_memory
    from ..pipelines import specs
    from ..pool import memory_budget

    packages = {pip: version_of(pip) for _, pip, _ in CORE + OPTIONAL}
    vm = psutil.virtual_memory()
    devices = [{"device": "cpu", "cores": os.cpu_count(), "ram_total": vm.total, "ram_available": vm.available}]
    if installed("torch"):
        devices += [{"device": f"cuda:{g['index']}", "name": g["name"], "total": g["total"], "free": g["free"]}
                    for g in gpu_memory()]
        import torch

        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            devices.append({"device": "mps"})
    cache = settings.hub_cache()
    info = scan_cache()
    forced = settings.offline_forced()
    reachable = None if forced or not probe_hub else hub_reachable()
    return {
        "modeldeck": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
        "devices": devices,
        "memory_budget": memory_budget("cpu"),
        "memory_budget_setting": os.environ.get("MODELDECK_MEMORY_BUDGET") or "70% of RAM (default)",
        "cache": {"path": str(cache), "models": len(info.repos) if info else 0,
                  "size_bytes": info.size_on_disk if info else 0, "warnings": [str(w) for w in info.warnings if not _is_dotfile(w)] if info else []},
        "modeldeck_home": str(settings.modeldeck_home()),
        "offline": {"forced": forced, "hub": settings.hub_endpoint(), "hub_reachable": reachable,
                    "acting_offline": forced or reachable is False},
        "tasks": [task_status(s) for s in specs()],
        "runtimes": runtimes_status(),
        **({"verify": [c.to_dict() for c in verify_all()]} if verify else {}),
    }


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--verify", is_flag=True,
              help="Check every cached and packaged model's files; list the broken ones (exit status 1 if any).")
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool, verify: bool) -> None:
    """Versions, devices, memory, cache and offline state; what is missing for which task."""
    from ..memory import format_bytes as fmt

    report = gather(verify=verify)
    broken_models = verify and any(c["problems"] for c in report["verify"])
    if as_json:
        click.echo(json.dumps(report, indent=2))
        if broken_models:
            ctx.exit(1)  # scripts can tell a broken cache by the exit status too
        return
    click.echo(f"modeldeck {report['modeldeck']} · Python {report['python']} · {report['platform']}")
    have = ", ".join(f"{p} {v}" for p, v in report["packages"].items() if v)
    lacking = ", ".join(p for p, v in report["packages"].items() if not v)
    click.echo(f"packages   {have}")
    if lacking:
        click.echo(f"missing    {lacking}")
    for d in report["devices"]:
        if d["device"] == "cpu":
            click.echo(f"cpu        {d['cores']} cores; RAM {fmt(d['ram_available'])} free of {fmt(d['ram_total'])}")
        elif d["device"].startswith("cuda"):
            click.echo(f"{d['device']:<10} {d['name']}; {fmt(d['free'])} free of {fmt(d['total'])}")
        else:
            click.echo(f"{d['device']:<10} available")
    click.echo(f"budget     {fmt(report['memory_budget'])} for loaded models ({report['memory_budget_setting']}; "
               "MODELDECK_MEMORY_BUDGET)")
    c = report["cache"]
    click.echo(f"cache      {c['path']}: {c['models']} repos, {fmt(c['size_bytes'])}")
    for warning in c["warnings"]:
        click.echo(f"           warning: {warning}")
    o = report["offline"]
    if o["forced"]:
        state = "offline (MODELDECK_OFFLINE / HF_HUB_OFFLINE / --offline)"
    elif o["hub_reachable"]:
        state = f"online ({o['hub']} reachable)"
    else:
        state = f"acting offline: {o['hub']} is not reachable"
    click.echo(f"network    {state}")
    r = report["runtimes"]
    have = [name for name, ok in r["installed"].items() if ok]
    click.echo(f"runtimes   {r['requested']} (MODELDECK_RUNTIME); fast paths installed: {', '.join(have) or 'none'} "
               f"(pip install 'modeldeck[fast]'); {r['threads']} threads; {len(r['stored'])} stored graphs")
    for g in r["stored"]:
        broken = f"; broken: {', '.join(g['broken'])}" if g.get("broken") else ""
        click.echo(f"           {g['model']} @ {g['revision'][:12]}: {g['graph']} ({fmt(g['size_bytes'])}{broken})")
    click.echo("tasks")
    width = max(len(t["task"]) for t in report["tasks"])
    for t in report["tasks"]:
        detail = t["default_model"] + (f" ({t['model_source']})" if t["model_source"] else "")
        fix = f"  -> {t['fix']}" if t["fix"] else ""
        click.echo(f"  {t['status']:<8} {t['task']:<{width}}  {detail}{fix}")
    if verify:
        checked = report["verify"]
        broken = [c for c in checked if c["problems"]]
        click.echo(f"verify     {len(checked)} model folders checked: "
                   + (f"{len(broken)} broken" if broken else "all whole"))
        for c in broken:
            click.echo(f"  broken   {c['model']} ({c['path']})")
            for problem in c["problems"]:
                click.echo(f"             {problem}")
            click.echo(f"             -> {c['fix']}")
        if broken_models:
            ctx.exit(1)
