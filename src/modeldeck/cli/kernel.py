"""``modeldeck kernel install``: register this Python environment as a Jupyter kernel.

The course's ``ipython kernel install --user --name=...`` step, done for you: the
kernel runs this very interpreter (a conda env or a venv), so a notebook that
picks it imports the same modeldeck and models.
"""

from __future__ import annotations

import re
import sys

import click

DEFAULT_NAME = "modeldeck"


def check_name(ctx, param, value: str) -> str:
    """Jupyter kernel names: letters, digits, '-', '.', '_' (they name a folder)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value or ""):
        raise click.BadParameter(f"{value!r} is not a kernel name: use letters, digits, '-', '.' or '_'.")
    return value.lower()


@click.group("kernel")
def kernel_group() -> None:
    """Jupyter kernels for this environment (for notebooks)."""


@kernel_group.command("install")
@click.option("--name", default=DEFAULT_NAME, show_default=True, callback=check_name, help="Kernel name (its folder).")
@click.option("--display-name", default=None, help="Name shown in Jupyter's kernel picker [default: Python (NAME)].")
@click.option("--sys-prefix", is_flag=True, help="Install into this environment's share/jupyter instead of your user folder.")
def install_command(name: str, display_name: str | None, sys_prefix: bool) -> None:
    """Register this environment's Python as the Jupyter kernel NAME."""
    try:
        from ipykernel.kernelspec import install
    except ImportError:
        from ..errors import MissingDependency

        raise MissingDependency(
            "Registering a Jupyter kernel needs ipykernel, which is not installed here.",
            "pip install 'modeldeck[notebooks]' (or conda install ipykernel), then run this again.",
        ) from None
    display_name = display_name or f"Python ({name})"
    where = install(
        user=not sys_prefix,
        prefix=sys.prefix if sys_prefix else None,
        kernel_name=name,
        display_name=display_name,
    )
    click.echo(f"Registered the Jupyter kernel {name!r} ({display_name}): it runs {sys.executable}")
    click.echo(f"Kernel spec: {where}")
    click.echo(f"In Jupyter, pick '{display_name}' (Kernel > Change kernel).")
