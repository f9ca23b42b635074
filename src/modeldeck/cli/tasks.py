"""``modeldeck tasks``: the task table."""

from __future__ import annotations

import json

import click


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def tasks_command(as_json: bool) -> None:
    """List every task with its default model and input -> output."""
    from ..pipelines import specs

    rows = [
        {
            "task": s.name,
            "aliases": list(s.aliases),
            "modality": s.modality,
            "default_model": s.default_model,
            "inputs": [i.name for i in s.inputs],
            "output": s.output_help,
            "summary": s.summary,
        }
        for s in specs()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("TASK", "DEFAULT MODEL", "INPUT -> OUTPUT")] + [
        (s.name, s.default_model, s.signature) for s in specs()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for name, model, signature in table:
        click.echo(f"{name:<{widths[0]}}  {model:<{widths[1]}}  {signature}")
