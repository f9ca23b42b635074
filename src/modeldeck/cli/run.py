"""``modeldeck run TASK INPUT...``: one command per task, generated from its spec."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidInput
from ..spec import Param, TaskSpec


def bind_positional(spec: TaskSpec, args: tuple[str, ...]) -> dict[str, Any]:
    """Map CLI positionals onto the spec's inputs; a ``many`` input takes what is left."""
    # stdin as bytes: text that is not UTF-8 keeps its bad bytes (as lone surrogates), so the task's
    # check can name the position instead of the decoder failing with a traceback
    args = [read_stdin() if a == "-" else a for a in args]
    bound: dict[str, Any] = {}
    remaining = list(args)
    for index, spec_input in enumerate(spec.inputs):
        after = sum(1 for i in spec.inputs[index + 1 :] if not i.optional)
        if spec_input.many:
            take = max(0, len(remaining) - after)
            if take:
                bound[spec_input.name] = remaining[:take]
            remaining = remaining[take:]
        elif remaining:
            bound[spec_input.name] = remaining.pop(0)
    if remaining:
        raise InvalidInput(f"Too many inputs for {spec.name}: {usage(spec)}")
    missing = [i.name.upper() for i in spec.inputs if i.name not in bound and not i.optional]
    if missing:
        raise InvalidInput(f"Missing {', '.join(missing)}. Usage: {usage(spec)}")
    return bound


def read_stdin() -> str:
    """All of stdin as text; bytes that are not UTF-8 kept as lone surrogates for the check to point at."""
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read().decode("utf-8", "surrogateescape") if buffer is not None else sys.stdin.read()


def usage(spec: TaskSpec) -> str:
    parts = []
    for i in spec.inputs:
        name = i.name.upper() + ("..." if i.many else "")
        parts.append(f"[{name}]" if i.optional else name)
    return f"modeldeck run {spec.name} {' '.join(parts)}"


def param_option(param: Param) -> click.Option:
    """A click option for a spec parameter."""
    help_text = param.help + (f" [default: {param.default}]" if param.default not in (None, False) else "")
    if param.type is bool:
        flag = param.name.replace("_", "-")
        return click.Option([f"--{flag}/--no-{flag}"], default=param.default, help=help_text)
    kind = click.Choice(param.choices) if param.choices else param.type
    return click.Option([param.option], type=kind, multiple=param.many, default=None, help=help_text)


def split_many(values: tuple[str, ...]) -> list[str]:
    """``--labels a,b --labels c`` -> ['a', 'b', 'c']."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


@contextmanager
def show_notices():
    """Print notices (input truncated, chunked...) as 'Note: ...' on stderr, and a progress bar for tasks
    that report steps (on stderr, only when it is a terminal)."""
    from ..notices import listening

    bar = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="steps", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        with listening(lambda message: click.secho(f"Note: {message}", fg="yellow", err=True), on_progress):
            yield
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def print_infos(runner, names: list[str], as_json: bool) -> None:
    """Answer informational flags (``--list-languages``...) from the runner's methods of those names."""
    from ..jsonable import to_jsonable

    for name in names:
        value = runner.info(name)
        text = None if as_json else runner.info_text(name, value)
        click.echo(json.dumps(to_jsonable(value), ensure_ascii=False) if text is None else text)


def runtime_options(spec: TaskSpec) -> list[click.Option]:
    """--runtime and --quantize, for tasks with a CPU fast path (see modeldeck.runtimes)."""
    from ..runtimes import FAST

    fast = FAST.get(spec.name)
    if fast is None:
        return []
    options = [
        click.Option(["--runtime"], type=click.Choice(["auto", "torch", fast]), default=None,
                     help=f"auto (default; MODELDECK_RUNTIME): {fast} where its graph is stored, else torch."),
    ]
    options.append(click.Option(["--quantize"], type=click.Choice(["int8", "none"]), default=None,
                                help=f"int8 weights on {fast} (faster, slightly different results)."))
    return options


def dtype_option() -> click.Option:
    """--dtype: the dtype torch models load in (see modeldeck.dtypes)."""
    return click.Option(
        ["--dtype"], type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default=None,
        help="auto (default; MODELDECK_DTYPE): bf16 where this CPU computes it natively and the task keeps its "
             "answers in it, else fp32; bf16 (CPUs with AVX512-BF16/AMX, GPUs), fp16 (GPUs), fp32.",
    )


def say_runtime(runner) -> None:
    """On stderr (--json stays clean): which fast path ran, or the reduced precision torch runs in."""
    runtime, precision = getattr(runner, "runtime", "torch"), getattr(runner, "precision", None)
    if runtime != "torch" or precision in ("bf16", "fp16"):
        click.echo(f"Runtime: {runtime} ({precision or 'fp32'})", err=True)


def check_writable(path: Path) -> None:
    """Refuse an -o file that cannot be written, before the model runs: a folder, a read-only place, a
    pseudo file system (/proc). Tried for real (the file is made and removed again when it was not there)."""
    import os

    from ..errors import InvalidInput

    if path.is_dir():
        raise InvalidInput(f"{str(path)!r} is a folder, not a file.", "Give a file name inside it.")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
        if not existed:
            os.unlink(path)
    except OSError as e:
        raise InvalidInput(
            f"Cannot write to {str(path)!r}: {(e.strerror or str(e)).lower()}.",
            "Pick a file in a folder you can write to.",
        ) from None


def task_command(spec: TaskSpec) -> click.Command:
    """The ``modeldeck run <task>`` command for one spec."""

    def callback(inputs, model, device, as_json, output, **options):
        from .. import load
        from ..jsonable import to_jsonable
        from ..runner import check_before_loading

        infos = [info.name for info in spec.infos if options.get(info.name)]
        if infos:
            print_infos(load(spec.name, model, device=device), infos, as_json)
            return
        bound = bind_positional(spec, inputs)
        params = {}
        for param in spec.params:
            value = options.get(param.name)
            if param.many and value is not None:
                value = split_many(value) or None
            if value is not None:
                params[param.name] = value
        # bad input, work over the budget and an output file the task cannot write fail before the model loads
        check_before_loading(spec.name, [bound], params, output=Path(output) if output else None)
        if output:
            check_writable(Path(output))
        allowed = {name: True for name in ("allow_pickle", "trust_remote_code") if options.get(name)}
        allowed.update({name: options[name] for name in ("runtime", "quantize", "dtype") if options.get(name)})
        runner = load(spec.name, model, device=device, **allowed)
        say_runtime(runner)
        stream = runner.stream if runner.streams else None
        if stream is not None and not as_json and not output and stdout_is_terminal():
            with show_notices():  # tasks that generate text print it as it comes
                for piece in stream(bound, **params):
                    click.echo(piece, nl=False)
            click.echo()
            return
        with show_notices():
            result = runner(bound, **params)
        if output:
            written = runner.save(result, output, bound)  # every file it wrote
            click.echo(f"Saved to {', '.join(str(path) for path in written)}", err=True)
        if as_json:
            click.echo(json.dumps(to_jsonable(result), ensure_ascii=False))
        elif not output:
            click.echo(runner.render(result, bound))

    params = [
        click.Argument(["inputs"], nargs=-1),
        click.Option(["--model", "-m"], help=f"Hub id[@revision] or folder [default: {spec.default_model}]"),
        click.Option(["--device"], help="cpu, cuda, cuda:1, mps [default: best available]"),
        click.Option(["--json", "as_json"], is_flag=True, help="Print JSON for scripts."),
        click.Option(["--output", "-o"], type=click.Path(dir_okay=False), help="Save the result to this file."),
        click.Option(["--allow-pickle"], is_flag=True, help="Allow this model's pickle-only weights (tensors only)."),
        click.Option(["--trust-remote-code"], is_flag=True, help="Allow this model to run Python code from its repo."),
        *runtime_options(spec),
        dtype_option(),
        *[param_option(p) for p in spec.params],
        *[click.Option([info.option], is_flag=True, help=info.help) for info in spec.infos],
    ]
    example = ""
    if spec.examples:
        first = spec.examples[0]
        shown = []
        for i in spec.inputs:
            values = first.get(i.name, [])
            shown += [json.dumps(v) for v in (values if i.many else [values])]
        example = f"\n\nExample:\n\n    modeldeck run {spec.name} {' '.join(shown)}"
    return click.Command(
        spec.name,
        callback=callback,
        params=params,
        help=f"{spec.summary}\n\nUsage: {usage(spec)}\n\nDefault model: {spec.default_model}. Output: {spec.output_help}.{example}",
        short_help=spec.summary,
        no_args_is_help=False,
    )


class TaskGroup(click.Group):
    """``run``'s subcommands: one per task (aliases too)."""

    def list_commands(self, ctx):
        from ..pipelines import registry

        return list(registry())

    def get_command(self, ctx, name):
        from ..pipelines import get_task

        return task_command(get_task(name).spec)


run_group = TaskGroup("run", help="Run a task: modeldeck run TASK INPUT... (see 'modeldeck tasks').")
