"""``modeldeck ui``: the web UI, one tab per task, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import click

from ..ui.auth import API_KEY_ENV, is_loopback, key_auth, serve_auth  # noqa: F401 - re-exported


def split_tasks(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("ui")
@click.option("--tasks", "tasks", multiple=True, metavar="TASK[,TASK...]", help="Only these tasks [default: all].")
@click.option("--host", default="127.0.0.1", show_default=True, help=f"Address to bind; other than loopback needs ${API_KEY_ENV}.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port [default: 7860, or the next free one].")
@click.option("--allow-local-models", is_flag=True,
              help="Let the model box open folders on this machine (off: visitors name hub ids and cached models).")
@click.option("--dtype", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default=None,
              help="dtype of the torch models (default: $MODELDECK_DTYPE or auto: bf16 where this CPU computes it "
                   "natively and the task keeps its answers in it, else fp32).")
def ui_command(tasks: tuple[str, ...], host: str, port: int | None, allow_local_models: bool,
               dtype: str | None = None) -> None:
    """Start the web UI: a tab per task, grouped by modality, in your browser."""
    if dtype is not None:
        from ..dtypes import set_process_dtype

        set_process_dtype(dtype)
    auth = serve_auth(host)  # fails before the app is built; launch() checks again for Python callers
    from ..ui.app import build_app, launch

    app = build_app(split_tasks(tasks) or None, allow_folders=allow_local_models)
    try:
        url = launch(app, host=host, port=port, auth=auth)
    except OSError as e:
        where = f"port {port}" if port else "ports 7860-7959"
        raise click.ClickException(f"Cannot serve on {host}, {where}: {e}. Pick another with --port.") from e
    click.echo(f"modeldeck UI: {url}  ({len(app.modeldeck_tabs)} tasks; Ctrl+C to stop)")
    if auth:
        click.echo(f"Log in with any user name and ${API_KEY_ENV} as the password.")
    import sys

    sys.stdout.flush()
    app.block_thread()
