"""What a task is: its inputs, parameters, output and default model.

Specs are plain data and import nothing heavy, so the CLI, the JSON Schemas
and the UI are generated from them without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidInput, UnknownParameter, about, did_you_mean

InputKind = Literal["text", "image", "audio", "messages"]  # messages: chat turns [{"role", "content"}]
Stage = Literal["preprocess", "forward", "postprocess"]
OutputKind = Literal[
    "labels",  # [{"label", "score"}], best first
    "vectors",  # [[float]]
    "scores",  # [float], one per candidate in order
    "fill-mask",  # [{"sequence", "score", "token", "token_str"}]
    "text",  # {"<key>": str} or [{"generated_text": str}]
    "answer",  # {"answer", "score", "start", "end"}
    "audio",  # {"audio": ndarray, "sampling_rate": int}
    "transcript",  # {"text", "chunks"}
    "image",  # PIL image(s)
    "boxes",  # [{"label", "score", "box"}]
    "masks",  # [{"mask", "score"}] (segmentation adds "label")
    "depth",  # {"depth", "predicted_depth"}
    "message",  # {"role": "assistant", "content"}
    "entities",  # [{"entity_group" (or "entity"), "score", "word", "start", "end"}], in text order
    "ranking",  # [{"index", "score", "text"}], best first
]


@dataclass(frozen=True)
class Input:
    """One named input of a task."""

    name: str
    kind: InputKind = "text"
    many: bool = False  # takes a list (the CLI's last positional takes the rest)
    help: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Param:
    """One tuning parameter; ``type`` is int, float, bool, str or a list of str."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    many: bool = False  # a list of values (e.g. candidate labels)
    min: float | None = None  # bounds, checked by coerce (inclusive unless exclusive_min)
    max: float | None = None
    exclusive_min: bool = False
    # The step that uses it. Requests batch together only when their forward parameters are
    # equal, so parameters used only before or after the model run never split a batch.
    stage: Stage = "forward"
    item: str | None = None  # the shape of each value of a ``many`` parameter: "point" (x, y) or "box"
    limit: str | None = None  # a configurable cap (modeldeck.limits) on top of ``max``

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def coerce(self, value: Any) -> Any:
        """``value`` as this parameter's type (numbers from text too); a clear error when it cannot be."""
        if self.many:
            # Lists pass as they are (items may be pairs, e.g. points); text splits at commas, as in the CLI.
            values = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
            if not isinstance(values, (list, tuple)):
                raise InvalidInput(f"{self.name} must be a list (or comma-separated text), not {type(value).__name__}.")
            from . import limits

            limits.check("texts", len(values), f"The number of {self.name}")
            for item in values:
                if isinstance(item, str):
                    check_text(item, self.name)
            return values
        converted = _convert(value, self.type)
        if converted is _BAD:
            kind = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(self.type, "")
            raise InvalidInput(f"{self.name} must be {kind}, not {value!r}.")
        if self.choices and converted not in self.choices:
            raise InvalidInput(
                f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}.",
                did_you_mean(str(value), self.choices),
            )
        if isinstance(converted, str):
            check_text(converted, self.name)
        if self.type in (int, float):
            self.check_bounds(converted)
            if self.limit is not None:
                from . import limits

                limits.check(self.limit, converted, self.name)
        return converted

    def check_bounds(self, number: float) -> None:
        """A clear error when ``number`` is NaN or outside [min, max]."""
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"{self.name} must be a finite number, not {number!r}.")
        if self.type is int and not -(2**63) <= number < 2**63:  # what torch and numpy hold; past it, overflow errors
            shown = f"{number:.3g}" if abs(number) >= 1e21 else f"{number:,}"
            raise InvalidInput(f"{self.name} is out of range: {shown} is beyond the largest whole number "
                               f"(9,223,372,036,854,775,807).", f"Use {self.bounds_text()}." if self.min is not None
                               or self.max is not None else "Use a smaller number.")
        low = self.min is not None and (number <= self.min if self.exclusive_min else number < self.min)
        high = self.max is not None and number > self.max
        if low or high:
            raise InvalidInput(f"{self.name} must be {self.bounds_text()}, not {number!r}.")

    def bounds_text(self) -> str:
        fmt = lambda v: f"{v:g}"  # noqa: E731
        if self.min is not None and self.max is not None:
            if self.exclusive_min:
                return f"between {fmt(self.min)} (excluded) and {fmt(self.max)}"
            return f"between {fmt(self.min)} and {fmt(self.max)}"
        if self.min is not None:
            return f"greater than {fmt(self.min)}" if self.exclusive_min else f"at least {fmt(self.min)}"
        return f"at most {fmt(self.max)}"


def check_text(text: str, name: str) -> None:
    """Refuse text that cannot be written as UTF-8 (lone surrogates: bytes that were not UTF-8), with the
    position, and text over the length cap. (One rule everywhere: refused, never silently replaced.)"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidInput(
            f"{name!r} is not valid text at character {e.start}: {text[e.start]!r} is half of a character "
            "(the input was not UTF-8).",
            "Save or send the text as UTF-8, or remove that character.",
        ) from None
    from . import limits

    limits.check("text_chars", len(text), f"The length of {name!r} (characters)")


_BAD = object()
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def _convert(value: Any, kind: type) -> Any:
    """``value`` as ``kind``, or _BAD: no silent truncation (2.5 is not an int), no bool as a number."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else _BAD
    if isinstance(value, bool):
        return _BAD
    if kind is int:
        if isinstance(value, int):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _BAD
        return int(number) if number.is_integer() else _BAD
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return _BAD
    if kind is str:
        return value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else _BAD
    return value


@dataclass(frozen=True)
class Info:
    """An informational flag (e.g. ``--list-languages``): the CLI loads the model, prints what the
    runner's method of the same name returns, and exits without running the task."""

    name: str
    help: str = ""

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class TaskSpec:
    """A task: its name, default model, inputs, parameters and output kind."""

    name: str
    summary: str
    default_model: str
    inputs: tuple[Input, ...]
    output: OutputKind
    output_help: str
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    modality: Literal["text", "audio", "vision", "multimodal"] = "text"
    backend: str = "transformers"
    examples: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    # A model shipped in a PyPI package, used instead of default_model when that is
    # neither cached nor downloadable (offline); hub.resolve_default says so once.
    offline_default: str | None = None
    # Informational flags, each answered by the runner's method of that name.
    infos: tuple[Info, ...] = ()
    # config.json model_type values this task runs (None: any); checked before downloading or loading.
    model_types: tuple[str, ...] | None = None
    # The JSON Schema of one result, where it is narrower than the output kind's (see schema.py).
    output_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # The terminal's line for a result with nothing in it, naming the parameters that would find more.
    nothing_found: str | None = None

    def params_for(self, stage: Stage, params: dict[str, Any]) -> dict[str, Any]:
        """The parameters of one stage (the engine groups requests by their forward parameters)."""
        return {p.name: params[p.name] for p in self.params if p.stage == stage and p.name in params}

    @property
    def signature(self) -> str:
        """A short 'inputs -> output' line for tables and help."""
        ins = ", ".join(f"{i.name}{'...' if i.many else ''}" for i in self.inputs)
        return f"{ins} -> {self.output_help}"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise UnknownParameter(
            f"Task {self.name!r} has no parameter {name!r}.",
            did_you_mean(name, [p.name for p in self.params])
            or f"It takes: {', '.join(p.name for p in self.params) or 'no parameters'}.", param=name,
        )

    def bind(self, inputs: Any, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split a call into named inputs and parameters (defaults filled in)."""
        kwargs = dict(kwargs)
        names = [i.name for i in self.inputs]
        bound: dict[str, Any] = {n: kwargs.pop(n) for n in names if n in kwargs}
        if isinstance(inputs, dict):
            unknown = set(inputs) - set(names)
            if unknown:
                name = sorted(unknown)[0]
                raise InvalidInput(
                    f"Task {self.name!r} has no input {name!r}.",
                    did_you_mean(name, names) or f"Its inputs are: {', '.join(names)}.", param=name,
                )
            bound.update(inputs)
        elif inputs is not None:
            if len(names) > 1 and isinstance(inputs, tuple) and len(inputs) == len(names):
                bound.update(zip(names, inputs))
            else:
                bound[names[0]] = inputs
        for spec in self.inputs:
            if spec.name not in bound and not spec.optional:
                raise InvalidInput(f"Task {self.name!r} needs the input {spec.name!r} ({spec.help}).", param=spec.name)
        params = {p.name: p.default for p in self.params}
        for name, value in kwargs.items():
            param = self.param(name)
            with about(name):
                params[name] = param.default if value is None else param.coerce(value)
        return bound, params
