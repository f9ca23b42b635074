"""``modeldeck ps`` and ``modeldeck stop MODEL``: what a running server or web UI holds, and unloading it
(as Ollama's ps / stop), through their ``GET /api/ps`` and ``POST /api/stop``.

With no ``--url``, the usual local addresses are asked: ``modeldeck serve``'s (127.0.0.1:8000) and
``modeldeck ui``'s (127.0.0.1:7860); ``MODELDECK_URL`` names another. The key is ``--api-key`` or
``$MODELDECK_API_KEY``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import click

from ..errors import HubUnreachable, InvalidInput, ModelNotAvailable

LOCAL = ("http://127.0.0.1:8000", "http://127.0.0.1:7860")
TIMEOUT = 10.0


def addresses(url: str | None) -> list[str]:
    given = url or os.environ.get("MODELDECK_URL", "").strip()
    return [given.rstrip("/")] if given else list(LOCAL)


def call(base: str, path: str, key: str | None, body: dict | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of one request; ConnectionError when nothing answers there."""
    request = urllib.request.Request(base + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            data = json.loads(error.read() or b"{}")
        except ValueError:
            data = {}
        return error.code, data if isinstance(data, dict) else {}
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ConnectionError(str(getattr(error, "reason", error))) from None


def message(data: dict) -> str:
    error = data.get("error")
    if isinstance(error, dict):  # OpenAI's shape
        return str(error.get("message") or error)
    return str(error or data)


def ask(url: str | None, path: str, key: str | None, body: dict | None = None) -> list[tuple[str, int, dict]]:
    """The answers of every address that answers; an error naming them when none does."""
    answers, tried = [], addresses(url)
    for base in tried:
        try:
            status, data = call(base, path, key, body)
        except ConnectionError:
            continue
        if status == 401:
            raise InvalidInput(f"{base} needs its API key.", "Pass --api-key KEY or set MODELDECK_API_KEY.")
        if status == 404 and "error" not in data:
            continue  # something else listens there (not a modeldeck server or UI)
        answers.append((base, status, data))
    if not answers:
        raise HubUnreachable(f"No modeldeck server or UI answers at {', '.join(tried)}.",
                             "Start one (modeldeck serve / modeldeck ui), or name its address with --url.")
    return answers


def size(value) -> str:
    from ..memory import format_bytes

    return format_bytes(value) if value else "?"


url_option = click.option("--url", help="The server's or UI's address [default: $MODELDECK_URL, else "
                                        "127.0.0.1:8000 and 127.0.0.1:7860].")
key_option = click.option("--api-key", envvar="MODELDECK_API_KEY", help="Its API key [default: $MODELDECK_API_KEY].")


@click.command("ps")
@url_option
@key_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def ps_command(url: str | None, api_key: str | None, as_json: bool) -> None:
    """The models a running server or web UI holds: memory, runtime, dtype, queue, requests served."""
    answers = ask(url, "/api/ps", api_key)
    if as_json:
        click.echo(json.dumps([{"url": base, **data} for base, _, data in answers], indent=2))
        return
    for base, status, data in answers:
        if status != 200:
            click.echo(f"{base}: {message(data)}")
            continue
        rows = data.get("models") or []
        if not rows:
            click.echo(f"{base}: no model loaded")
            continue
        table = [("MODEL", "TASK", "DEVICE", "RUNTIME", "DTYPE", "MEMORY", "QUEUE", "SERVED")]
        for r in rows:
            queue = f"{r.get('queue_depth', 0)} waiting, {r.get('in_flight', 0)} in flight"
            table.append((str(r.get("model")), str(r.get("task")), str(r.get("device", "-")),
                          str(r.get("runtime") or "-"), str(r.get("precision") or "-"),
                          size(r.get("predicted_bytes")), queue, f"{r.get('answered', 0):,}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        click.echo(base)
        for row in table:
            click.echo("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@click.command("stop")
@click.argument("model")
@click.option("--task", help="Only this task's copy of the model [default: every task it is loaded for].")
@url_option
@key_option
def stop_command(model: str, task: str | None, url: str | None, api_key: str | None) -> None:
    """Unload MODEL from a running server or web UI (the next request loads it again)."""
    body = {"model": model, **({"task": task} if task else {})}
    answers = ask(url, "/api/stop", api_key, body)
    stopped = [(base, data) for base, status, data in answers if status == 200]
    for base, data in stopped:
        for row in data.get("stopped", []):
            click.echo(f"Stopped {row['model']} ({row['task']}) at {base}")
    if not stopped:
        base, status, data = answers[0]
        if status == 404:
            raise ModelNotAvailable(f"{base}: {message(data)}")
        raise InvalidInput(f"{base}: {message(data)}")
