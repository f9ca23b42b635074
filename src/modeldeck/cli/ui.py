"""``modeldeck ui``: the web UI, one tab per task, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import hmac
import ipaddress
import os

import click

API_KEY_ENV = "MODELDECK_API_KEY"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` binds only this machine ("" binds every address: not loopback)."""
    host = (host or "").strip()
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def key_auth(key: str):
    """Gradio auth: any user name, the API key as the password."""

    def check(user: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), key.encode())

    return check


def serve_auth(host: str | None, auth=None):
    """The login for serving on ``host``: None on loopback; elsewhere ``auth`` if given, else
    $MODELDECK_API_KEY as the password. Refuses (InvalidInput) to serve other machines without one."""
    if is_loopback(host):
        return auth
    if auth:
        return auth
    key = os.environ.get(API_KEY_ENV, "")
    if not key:
        from ..errors import InvalidInput

        raise InvalidInput(
            f"Binding {host!r} would let other machines use this UI; set {API_KEY_ENV} to a secret first "
            "(it becomes the login password).",
            "Or keep the default --host 127.0.0.1.",
        )
    return key_auth(key)


def split_tasks(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("ui")
@click.option("--tasks", "tasks", multiple=True, metavar="TASK[,TASK...]", help="Only these tasks [default: all].")
@click.option("--host", default="127.0.0.1", show_default=True, help=f"Address to bind; other than loopback needs ${API_KEY_ENV}.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port [default: 7860, or the next free one].")
def ui_command(tasks: tuple[str, ...], host: str, port: int | None) -> None:
    """Start the web UI: a tab per task, grouped by modality, in your browser."""
    auth = serve_auth(host)  # fails before the app is built; launch() checks again for Python callers
    from ..ui.app import build_app, launch

    app = build_app(split_tasks(tasks) or None)
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
