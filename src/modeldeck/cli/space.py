"""``modeldeck space export TASK... --out DIR``: a Hugging Face Space (Gradio) for some tasks."""

from __future__ import annotations

import click


@click.group("space")
def space_group() -> None:
    """Hugging Face Spaces: export tasks as a ready-to-push Space."""


@space_group.command("export")
@click.argument("tasks", nargs=-1, required=True)
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False), help="Folder to write the Space into.")
@click.option("--title", default=None, help="The Space's title [default: from the tasks].")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def export_command(tasks: tuple[str, ...], out: str, title: str | None, force: bool) -> None:
    """Write a Space folder for TASKS: README.md (Spaces front matter), app.py, requirements.txt (and packages.txt for apt packages some tasks need)."""
    from pathlib import Path

    from ..ui.space import export_space

    folder = export_space([t.strip() for value in tasks for t in value.split(",") if t.strip()], Path(out), title=title, force=force)
    click.echo(f"Space written to {folder}")
    click.echo(f"Try it:  cd {folder} && python app.py")
    click.echo("Publish:  create a Gradio Space on huggingface.co and push this folder to it (git or `hf upload`).")
