"""``modeldeck pull / list / rm / estimate``: the models on this machine and their memory."""

from __future__ import annotations

import json
import time

import click

from ..errors import ModeldeckError


def _fmt(n) -> str:
    from ..memory import format_bytes

    return format_bytes(n)


def _ago(when: float | None) -> str:
    if not when:
        return "never"
    seconds = max(0, time.time() - when)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(row[:-1])) + "  " + row[-1])


# -- pull ------------------------------------------------------------------------------------------


@click.command("pull")
@click.argument("models", nargs=-1)
@click.option("--task", "tasks", multiple=True, help="Pull this task's default model (repeatable).")
@click.option("--defaults", is_flag=True, help="Pull the default model of every task.")
@click.option("--revision", help="Branch, tag or commit to pull (for models named without '@revision').")
@click.option("--dry-run", is_flag=True, help="Show what would be downloaded, download nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--force", is_flag=True, help="Repair: check the cached files and re-fetch only the broken or missing ones.")
@click.option("--runtime", type=click.Choice(["onnx", "ctranslate2"]),
              help="Also make and store the model's graph for this CPU fast path (then runtime=auto uses it).")
@click.option("--quantize", type=click.Choice(["int8"]), help="With --runtime: store the int8 graph (generation).")
def pull_command(models, tasks, defaults, revision, dry_run, quiet, force, runtime, quantize) -> None:
    """Download models into the Hugging Face cache: only the files modeldeck loads.

    Safetensors rather than pickle, no TensorFlow/Flax/ONNX copies. A pull that
    was cut off continues where it stopped when run again.

        modeldeck pull gpt2 facebook/bart-large-cnn@main
        modeldeck pull --task summarization
        modeldeck pull --defaults
        modeldeck pull gpt2 --force      # repair a broken cached copy
        modeldeck pull gpt2 --runtime ctranslate2   # and store its CTranslate2 conversion
    """
    from ..online import require_online
    from ..refs import ModelRef
    from ..pipelines import get_task, specs
    from ..download import plan_pull, pull_one
    from . import fail

    names = list(models)
    names += [get_task(t).spec.default_model for t in tasks]
    if defaults:
        names += [s.default_model for s in specs()]
    if not names:
        raise click.UsageError("Name at least one model, or use --task TASK or --defaults.")
    refs = []
    for name in dict.fromkeys(names):
        ref = ModelRef.parse(name)
        if revision and not ref.revision and ref.path is None:
            ref = ModelRef(ref.id, revision)
        refs.append(ref)
    if force:
        _require_online_to_repair(refs)
    else:
        require_online("download models")  # fails in seconds when there is no network
    failed = 0
    for ref in refs:
        try:
            plan = plan_pull(ref)
            skipped = f"; skipping {len(plan.skipped)} not needed" if plan.skipped else ""
            if plan.skipped:
                shown = ", ".join(plan.skipped[:4]) + (", ..." if len(plan.skipped) > 4 else "")
                skipped += f" ({shown})"
            click.echo(
                f"{ref} (commit {plan.commit[:12]}): {len(plan.files)} files, {_fmt(plan.total_bytes)}{skipped}", err=True
            )
            if dry_run and not force:
                for name, size in plan.files.items():
                    click.echo(f"  {name}  {_fmt(size)}")
                continue
            if force:
                _repair(ref, plan, dry_run, quiet)
            if dry_run:
                continue
            path = pull_one(ref, progress=not quiet, plan=plan)
            if force:
                _check_repaired(ref, plan)
            click.echo(f"{ref}: ready at {path}")
            if runtime:
                _prepare_runtime(ref, path, runtime, quantize)
        except ModeldeckError as e:
            if len(refs) == 1:
                raise
            failed += 1
            fail(f"{ref}: {e.message}", e.hint)
    if failed:
        raise ModeldeckError(f"{failed} of {len(refs)} models could not be pulled.", "See the errors above.")


def _prepare_runtime(ref, path, runtime: str, quantize: str | None) -> None:
    """Make and store the model's fast-runtime graph now (each task of the model that has that runtime)."""
    from ..catalog import tasks_for
    from ..errors import InvalidInput
    from ..pool import prepare_graph
    from ..runtimes import FAST

    tasks = [t for t in tasks_for(ref.id, path) if FAST.get(t) == runtime]
    if not tasks:
        raise InvalidInput(
            f"{ref} serves no task that runs on {runtime}.",
            "ONNX Runtime: feature-extraction, sentence-similarity, text-classification, fill-mask, question-answering; "
            "CTranslate2: text-generation, summarization, translation.",
        )
    options = {"runtime": runtime, **({"quantize": quantize} if quantize else {})}
    for task in tasks:
        runtime, precision = prepare_graph(task, str(ref), **options)
        click.echo(f"{ref}: {task} runs on {runtime} ({precision or quantize or 'fp32'})", err=True)


def _require_online_to_repair(refs) -> None:
    """pull --force with no hub: say that nothing changed and what else would do."""
    from .. import settings
    from ..errors import HubUnreachable
    from ..online import require_online

    try:
        require_online("download models")
    except HubUnreachable as e:
        names = ", ".join(str(r) for r in refs)
        raise HubUnreachable(
            f"Cannot re-fetch the broken files of {names}: {e.message.split(': ', 1)[-1]}",
            "Nothing was changed. " + (e.hint if settings.offline_forced() else "Run the same command again when "
            "the hub is reachable (or copy the model's cache folder from a machine that has it whole)."),
        ) from None


def _repair(ref, plan, dry_run: bool, quiet: bool) -> None:
    """Say which cached files are broken and (unless dry_run) re-fetch just those."""
    from ..download import storage_folder
    from ..integrity import broken_files, repair
    from ..refs import split_subpath

    broken, stray = broken_files(ref, plan)
    for problem in stray:
        click.echo(f"{ref}: {problem} is broken but not on the hub at this commit; left as it is.", err=True)
    if not (storage_folder(split_subpath(ref.id)[0]) / "snapshots" / plan.commit).is_dir():
        click.echo(f"{ref}: commit {plan.commit[:12]} is not cached yet; fetching it whole.", err=True)
        return
    if not broken:
        click.echo(f"{ref}: every cached file checks out; nothing to re-fetch.", err=True)
        return
    verb = "would re-fetch" if dry_run else "re-fetching"
    click.echo(f"{ref}: {verb} {len(broken)} broken file(s):", err=True)
    for name, why in broken.items():
        click.echo(f"  {name}  ({why})", err=True)
    if not dry_run:
        repair(ref, plan, broken, progress=not quiet)


def _check_repaired(ref, plan) -> None:
    from ..errors import BrokenModel
    from ..integrity import broken_files

    still, _ = broken_files(ref, plan)
    if still:
        shown = ", ".join(f"{name} ({why})" for name, why in still.items())
        raise BrokenModel(f"{ref} is still broken after re-fetching: {shown}.",
                          "The hub's copy may differ from what it lists; try again later, or rm the model and pull it.")


# -- list ------------------------------------------------------------------------------------------


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_command(as_json: bool) -> None:
    """Cached and packaged models: revision, size on disk, the tasks each serves, last used."""
    from .. import settings
    from ..catalog import list_models

    entries = list_models()
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    if not entries:
        click.echo(f"No models yet in {settings.hub_cache()}. Get one with: modeldeck pull MODEL")
        return
    rows = [("MODEL", "REVISION", "SIZE", "LAST USED", "STATUS", "TASKS")]
    for e in entries:
        revision = e.revision if e.source == "cache" else f"({e.revision})"
        rows.append((e.id, revision, _fmt(e.size_bytes), _ago(e.last_used), e.status, ", ".join(e.tasks) or "-"))
    _table(rows)
    broken = [e for e in entries if e.broken]
    if broken:
        click.echo("")
    for e in broken:
        shown = ", ".join(e.broken[:3]) + (f" and {len(e.broken) - 3} more" if len(e.broken) > 3 else "")
        click.echo(f"broken: {e.id}: {shown}. Repair: {e.repair}")
    total = sum(e.size_bytes for e in entries if e.source == "cache")
    click.echo(f"\n{sum(e.source == 'cache' for e in entries)} cached ({_fmt(total)} in {settings.hub_cache()}), "
               f"{sum(e.source == 'package' for e in entries)} packaged.")


# -- rm --------------------------------------------------------------------------------------------


@click.command("rm")
@click.argument("models", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def rm_command(models, yes: bool) -> None:
    """Remove models (or one revision: MODEL@REVISION) from the Hugging Face cache.

    Only the cache is ever touched; models shipped in packages stay.
    """
    from ..catalog import remove, removal_plan

    plans = [removal_plan(m) for m in models]  # every name checked before anything is deleted
    for plan in plans:
        what = "all revisions" if plan.whole_repo else ", ".join(r[:12] for r in plan.revisions)
        click.echo(f"{plan.ref.id}: {what}, {_fmt(plan.freed_bytes)} ({plan.repo_path})")
    total = sum(p.freed_bytes for p in plans)
    if not yes and not click.confirm(f"Remove {len(plans)} model(s), freeing {_fmt(total)}?", default=False):
        raise click.Abort()
    for plan in plans:
        freed = remove(plan)
        what = "every revision" if plan.whole_repo else "revision " + ", ".join(r[:12] for r in plan.revisions)
        click.echo(f"Removed {plan.ref.id} ({what}, {plan.repo_path}): freed {_fmt(freed)}.")
    if len(plans) > 1:
        click.echo(f"Freed {_fmt(total)} in all.")


# -- estimate ----------------------------------------------------------------------------------------


@click.command("estimate")
@click.argument("model")
@click.option("--dtype", type=click.Choice(["fp32", "fp16", "bf16", "int8"]), help="Load dtype [default: what modeldeck picks for the device].")
@click.option("--device", help="cpu, cuda, cuda:1, mps [default: MODELDECK_DEVICE or the best one here].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def estimate_command(model: str, dtype: str | None, device: str | None, as_json: bool) -> None:
    """How much memory MODEL needs, and whether it fits here, before downloading or loading it.

    Reads the safetensors headers (from the cache, a package, or the hub with
    range requests: a few kB, not the weights) for parameters per dtype, and
    shows modeldeck's prediction beside the Hugging Face course's rule of thumb,
    'weights file x 1.2'.
    """
    from ..memory import estimate, format_count

    e = estimate(model, dtype=dtype, device=device)
    if as_json:
        click.echo(json.dumps(e.to_dict(), indent=2))
        return
    where = {"hub": "read remotely from the hub, nothing downloaded", "cache": "cached", "package": "packaged",
             "folder": "folder"}[e.source]
    click.echo(f"{e.model}" + (f"@{e.revision[:12]}" if e.revision else "") + f"  ({where})")
    if e.exact:
        per = ", ".join(f"{k} {format_count(v)}" for k, v in e.params_by_dtype.items())
        click.echo(f"  parameters     {format_count(e.parameters)}  ({per})")
    else:
        click.echo("  parameters     unknown (no safetensors: only file sizes are known)")
    files = ", ".join(list(e.weight_files)[:3]) + (", ..." if len(e.weight_files) > 3 else "")
    click.echo(f"  weights        {_fmt(e.weights_bytes)} in {len(e.weight_files)} file(s): {files}")
    mem = "GPU memory" if e.device.startswith("cuda") else "RAM"
    click.echo(f"  modeldeck      {_fmt(e.predicted_bytes)} of {mem} loaded as {e.dtype} on {e.device}")
    if e.by_dtype:
        others = ", ".join(f"{d} {_fmt(b)}" for d, b in e.by_dtype.items() if d != e.dtype)
        click.echo(f"                 (other dtypes: {others})")
    click.echo(f"  x1.2 rule      {_fmt(e.rule_bytes)} (weights file size x 1.2)")
    if e.available_bytes is not None:
        click.echo(f"  free {mem:<9} {_fmt(e.available_bytes)}" + (f"; modeldeck budget {_fmt(e.budget_bytes)}" if e.budget_bytes else ""))
    click.echo(f"  verdict        {e.verdict}")
