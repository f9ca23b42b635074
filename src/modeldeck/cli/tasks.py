"""``modeldeck tasks``: the task table."""

from __future__ import annotations

import json

import click


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts, with JSON Schemas of each task's call.")
def tasks_command(as_json: bool) -> None:
    """List every task: its aliases, default model, whether it runs offline now, and input -> output."""
    from ..pipelines import specs

    if as_json:
        click.echo(json.dumps([_row(s) for s in specs()], indent=2))
        return
    table = [("TASK", "ALIASES", "DEFAULT MODEL", "OFFLINE", "INPUT -> OUTPUT")] + [
        (s.name, ", ".join(s.aliases) or "-", s.default_model, offline(s)["shown"], s.signature) for s in specs()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for *cells, signature in table:
        click.echo("  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths)) + f"  {signature}")
    click.echo("\nOFFLINE: 'ready' runs now with no network (its model is cached or packaged); otherwise what to do "
               "while online. 'modeldeck doctor' says more.")


def offline(spec) -> dict:
    """Whether the task runs here with no network now (doctor's check: packages, and a model on disk)."""
    from .doctor import task_status

    status = task_status(spec)
    shown = {"ready": "ready", "pull": "pull", "install": "install", "broken": "broken"}.get(status["status"], "?")
    if status["status"] == "ready" and status["model_source"] and status["model_source"] not in ("cache", "package"):
        shown = "ready (stand-in)"  # the default is not here, its packaged offline stand-in is
    return {"ready": status["status"] == "ready", "shown": shown, "fix": status["fix"]}


def _row(spec) -> dict:
    """One task for ``--json``: what the table shows, and its input, params and output schemas."""
    from ..schema import task_schemas

    state = offline(spec)
    return {
        "task": spec.name,
        "aliases": list(spec.aliases),
        "modality": spec.modality,
        "default_model": spec.default_model,
        "ready_offline": state["ready"],
        "offline_fix": state["fix"],
        "inputs": [i.name for i in spec.inputs],
        "output": spec.output_help,
        "summary": spec.summary,
        **task_schemas(spec),  # input_schema, params_schema, output_schema
    }
