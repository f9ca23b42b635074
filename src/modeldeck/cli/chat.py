"""``modeldeck chat``: an interactive, multi-turn conversation with a chat model.

Type a message and get a reply; the conversation so far goes with each message
(the oldest turns are dropped when it outgrows the model's window). ``/reset``
starts over, ``/exit`` or Ctrl-D leaves. Reads stdin line by line, so it also
works with piped input (``printf 'Hi\\nHow are you?\\n' | modeldeck chat``).
"""

from __future__ import annotations

import sys

import click

from ..pipelines.chat import Chat
from .run import param_option

HELP_TEXT = "/reset starts a new conversation, /exit or Ctrl-D leaves, /help shows this."


def _options(command):
    for param in reversed(Chat.spec.params):
        command.params.append(param_option(param))
    return command


@_options
@click.command("chat")
@click.option("--model", "-m", help=f"Hub id[@revision] or folder [default: {Chat.spec.default_model}]")
@click.option("--device", help="cpu, cuda, cuda:1, mps [default: best available]")
@click.option("--system", help="A system message to open the conversation (for models whose chat format has one).")
@click.option("--dtype", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default=None,
              help="auto (default; MODELDECK_DTYPE), fp32, bf16 (CPUs with native bf16, GPUs), fp16 (GPUs).")
def chat_command(model, device, system, dtype=None, **options) -> None:
    """Chat with a model in the terminal: multi-turn; /reset starts over, Ctrl-D leaves."""
    from .. import load
    from ..errors import InvalidInput
    from ..notices import collected
    from ..generation import check_decoding

    params = {p.name: options[p.name] for p in Chat.spec.params if options.get(p.name) is not None}
    Chat.spec.bind("check", params)  # bad parameters fail before the model loads
    check_decoding(params)
    runner = load("chat", model, device=device, **({"dtype": dtype} if dtype else {}))
    from .run import say_runtime

    say_runtime(runner)
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:
            pass
    click.secho(f"Chatting with {runner.model_id}. {HELP_TEXT}", dim=True, err=True)
    opening = [{"role": "system", "content": system}] if system else []
    history = list(opening)
    told_about_dropping = False
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            if interactive:
                click.echo(err=True)
            break
        except KeyboardInterrupt:
            click.echo(err=True)
            break
        message = line.strip()
        if not message:
            continue
        if message in ("/exit", "/quit", "/bye"):
            break
        if message == "/reset":
            history = list(opening)
            click.secho("(new conversation)", dim=True, err=True)
            continue
        if message == "/help":
            click.secho(HELP_TEXT, dim=True, err=True)
            continue
        turn = {"role": "user", "content": message}
        try:
            with collected() as told:
                pieces = runner.stream([*history, turn], **params)
                first = next(pieces, "")  # the conversation is checked (and notices told) before any output
                for note in told:
                    dropping = note.startswith("Dropped")
                    if not (dropping and told_about_dropping):
                        click.secho(f"Note: {note}", fg="yellow", err=True)
                    told_about_dropping |= dropping
                click.echo("bot> " if interactive else "", nl=False)
                content = first
                click.echo(first, nl=False)
                for piece in pieces:  # the reply as it is made
                    content += piece
                    click.echo(piece, nl=False)
                click.echo()
        except InvalidInput as e:
            click.secho(f"Error: {e}", fg="red", err=True)
            continue
        except KeyboardInterrupt:
            click.secho("(interrupted; that message was not sent)", dim=True, err=True)
            continue
        history += [turn, {"role": "assistant", "content": content}]
