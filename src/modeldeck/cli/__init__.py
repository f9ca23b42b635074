"""The modeldeck command line.

Subcommands load lazily from ``COMMANDS`` so ``modeldeck --help`` imports
nothing heavy; the task commands under ``run`` are generated from the specs.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from ..errors import ModeldeckError

# name -> "module:attribute", relative to this package.
COMMANDS = {
    "tasks": "tasks:tasks_command",
    "run": "run:run_group",
    "chat": "chat:chat_command",
    "ui": "ui:ui_command",
    "serve": "serve:serve_command",
    "space": "space:space_group",
    "pull": "models:pull_command",
    "list": "models:list_command",
    "rm": "models:rm_command",
    "estimate": "models:estimate_command",
    "doctor": "doctor:doctor_command",
    "ps": "manage:ps_command",
    "stop": "manage:stop_command",
    "kernel": "kernel:kernel_group",
}


class LazyGroup(click.Group):
    """A group whose subcommands import on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:
            from ..errors import did_you_mean

            if args and args[0] not in COMMANDS and not args[0].startswith("-"):
                hint = did_you_mean(args[0], COMMANDS)
                raise click.UsageError(f"No command {args[0]!r}. {hint}".strip(), ctx) from e
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modeldeck")
@click.option("--offline", is_flag=True, help="Use only cached or packaged models; never touch the network.")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, offline: bool, debug: bool) -> None:
    """Run open-source Hugging Face models on your own machine."""
    ctx.obj = {"debug": debug}
    if offline:
        os.environ["MODELDECK_OFFLINE"] = "1"
        os.environ["HF_HUB_OFFLINE"] = "1"


def fail(message: str, hint: str | None = None, code: int = 1) -> int:
    """Print one line to stderr, what went wrong and what to do; return the exit code."""
    click.secho(f"Error: {message}" + (f" {hint}" if hint else ""), fg="red", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one clear line (tracebacks with --debug)."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args or os.environ.get("MODELDECK_DEBUG") == "1"
    if debug:
        os.environ["MODELDECK_DEBUG"] = "1"
    try:
        code = cli.main(args=args, prog_name="modeldeck", standalone_mode=False)
        return code if isinstance(code, int) else 0  # ctx.exit(n) comes back as n
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        return fail("Aborted.", code=130)
    except click.ClickException as e:
        from ..errors import clip

        e.message = clip(e.message)  # click quotes the value it could not read: a 100 kB value stays one line
        e.show()
        return e.exit_code
    except ModeldeckError as e:
        if debug:
            traceback.print_exc()
        return fail(e.message, e.hint)
    except KeyboardInterrupt:
        return fail("Interrupted.", code=130)
    except Exception as e:  # noqa: BLE001 - a person should see one line, not a traceback
        if debug:
            traceback.print_exc()
            return 1
        return fail(f"{type(e).__name__}: {e}", "Run again with --debug for the full traceback.")
