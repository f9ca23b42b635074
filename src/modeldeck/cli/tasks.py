"""``modeldeck tasks``: the task table."""

from __future__ import annotations

import json

import click


@click.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts, with JSON Schemas of each task's call.")
def tasks_command(as_json: bool) -> None:
    """List every task with its default model and input -> output."""
    from ..pipelines import specs

    if as_json:
        click.echo(json.dumps([_row(s) for s in specs()], indent=2))
        return
    table = [("TASK", "DEFAULT MODEL", "INPUT -> OUTPUT")] + [
        (s.name, s.default_model, s.signature) for s in specs()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for name, model, signature in table:
        click.echo(f"{name:<{widths[0]}}  {model:<{widths[1]}}  {signature}")


def _row(spec) -> dict:
    """One task for ``--json``: what the table shows, and its input, params and output schemas."""
    from ..schema import task_schemas

    return {
        "task": spec.name,
        "aliases": list(spec.aliases),
        "modality": spec.modality,
        "default_model": spec.default_model,
        "inputs": [i.name for i in spec.inputs],
        "output": spec.output_help,
        "summary": spec.summary,
        **task_schemas(spec),  # input_schema, params_schema, output_schema
    }
