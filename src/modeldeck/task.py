"""The task contract every model shares: load once, then per call plan -> preprocess -> forward -> postprocess.

A Task instance is one model loaded for one task: its weights, processor and
engine. It is never changed after ``load`` (the pool swaps whole instances in
and out behind a ``Runner``), so a call that holds one can never have it taken
apart under it. Interfaces never hold a Task: they call the Runner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .engine import Engine, Request, params_key
from .errors import InvalidInput, ModeldeckError, ModelTooLarge, TaskFailed, about
from .spec import TaskSpec, check_text


def _image_decoder():
    from .media.image import is_file, load_image

    def decode(value, params, name):
        image = load_image(value, downscale=bool(params.get("downscale")))
        if isinstance(value, Path) or (isinstance(value, str) and is_file(value)):
            image.info["source"] = str(value)  # results can name the file (image-text-matching)
        return image

    return decode


def _audio_decoder():
    from . import limits
    from .media.audio import decode

    def decode_checked(value, params, name):
        # Native rate kept: each model resamples to its own rate in preprocess.
        audio = decode(value, name=name)
        samples, rate = audio
        limits.check("audio_seconds", round(len(samples) / rate, 1), f"The length of {name!r} (seconds)")
        return audio

    return decode_checked


DECODERS = {"image": _image_decoder, "audio": _audio_decoder}


def count_with(tokenizer: Any, value: Any, special: bool) -> int:
    """Tokens of a text, or the sum over a list of texts, for ``tokenizer`` (0 without one)."""
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    texts = [t for t in texts if isinstance(t, str) and t]
    if not callable(tokenizer) or not texts:
        return 0
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=special)["input_ids"])


def failure(task_name: str, model_id: str, error: Exception) -> ModeldeckError:
    """A modeldeck error for a library error that escaped a task's own checks."""
    text = str(error).splitlines()[0][:300] if str(error) else ""
    if isinstance(error, MemoryError) or "can't allocate" in text or "out of memory" in text.lower():
        return ModelTooLarge(
            f"Ran out of memory running {task_name} on {model_id} ({text}).",
            "Ask for less (shorter input, fewer tokens, beams or images), or free memory and try again.",
        )
    return TaskFailed(
        f"{task_name} on {model_id} failed: {type(error).__name__}: {text}",
        "This input or setting is one the model could not handle; run again with --debug (Python: see the "
        "chained exception) for the traceback, and report it if it looks like a bug.",
    )


@dataclass
class Step:
    """Work for the model: ``items`` go through ``forward``, batched with other calls' items.

    ``stream``: in a stream, the step's one item runs through ``forward_stream``,
    its text reaching the reader as it is made.
    """

    items: list
    stream: bool = False


class Parts(list):
    """What ``preprocess`` returns for an item that takes several passes (QA windows, text chunks, audio
    windows): each part is scheduled and batched on its own; ``postprocess`` gets their outputs as a list."""


Plan = Generator[Step, list, Any]


class Task:
    """One model loaded for one task, and the steps of a call to it.

    Subclasses set ``spec`` and implement the steps. Per call: ``check`` (a
    classmethod: before any model loads, decodes media), ``validate`` (with the
    model), then ``plan``, which by default is ``preprocess`` (in the caller's
    thread, never touching the device), one ``forward`` pass on the engine's
    worker (on a batch of items from any callers; it gets only the parameters
    whose stage is "forward"), and ``postprocess`` (in the caller's thread).
    A task whose items take several passes returns ``Parts`` from preprocess,
    or writes its own ``plan``. The caller-side steps of one model run one at a
    time (``self.lock``): tokenizers and processors keep state between calls,
    which two threads must never change under each other.
    """

    spec: ClassVar[TaskSpec]
    output_suffixes: ClassVar[tuple[str, ...]] = (".json", "")  # what ``save`` writes (-o FILE)
    max_batch_size: ClassVar[int] = 1
    max_batch_tokens: ClassVar[int] = 16384  # items x longest item's tokens in one pass
    runtime = "torch"  # the backends say otherwise when a fast runtime runs the model
    precision: str | None = None

    def __init__(self, model_path: Path, model_id: str, device: str = "cpu", **options: Any):
        self.model_path = Path(model_path)
        self.model_id = model_id
        self.device = device
        self.options = options
        self.lock = threading.RLock()
        self.load()
        import torch  # (imported by now; looked up once here, not in each call's steps)

        self._inference = torch.inference_mode
        self.engine = Engine(
            self.forward,
            name=f"{self.spec.name}:{self.model_id}",
            max_batch_size=self.max_batch_size,
            max_batch_tokens=self.max_batch_tokens,
            batch_wait=options.get("batch_wait"),
        )

    def load(self) -> None:
        """Load the model and its processor from ``self.model_path``."""
        raise NotImplementedError

    @classmethod
    def check_checkpoint(cls, model_id: str, folder: Path, config: dict | None) -> None:
        """Refuse, before loading, a checkpoint whose files show it cannot do this task (``config``: its
        config.json, or None); for needs beyond the head, such as zero-shot's entailment label."""

    def close(self) -> None:
        """Take no more work (the pool let go of this model); what is queued still runs."""
        self.engine.close()

    # -- the steps of a call --------------------------------------------------------------------

    def plan(self, inputs: dict[str, Any], params: dict[str, Any], emit: Callable[[str], None] | None = None) -> Plan:
        """The steps of one call: yields the work for the model, gets the outputs back, returns the result.

        ``emit`` is set when the call streams: text for the reader that is not
        made by a streamed step goes through it.
        """
        item = self.preprocess(inputs, **params)
        if isinstance(item, Parts):
            outputs = yield Step(list(item))
            return self.postprocess(outputs, **params)
        (output,) = yield Step([item], stream=emit is not None)
        return self.postprocess(output, **params)

    def advance(self, plan: Plan, outputs: list | None) -> Step:
        """The plan's next step (StopIteration carries the result): the caller's side of a call, one
        caller at a time per model, in inference mode."""
        with self.lock, self._inference():
            return plan.send(outputs)

    def request(self, item: Any, params: dict[str, Any], owner: Any = None) -> Request:
        """An item of a call, ready for the engine: its forward parameters, batch key and cost."""
        forward_params = self.spec.params_for("forward", params)
        key = (params_key(forward_params), self.batch_key(item) if self.max_batch_size > 1 else None)
        return Request(item, forward_params, key, self.cost(item), not self.can_batch(params), owner)

    def batch_key(self, item: Any) -> Any:
        """Items share a forward pass only when their keys are equal (e.g. pictures of one shape)."""
        return None

    def cost(self, item: Any) -> int:
        """The item's size for the batch token budget (tasks with token inputs count tokens)."""
        return 1

    def can_batch(self, params: dict[str, Any]) -> bool:
        """Whether a request with these parameters may share a forward pass (not for sampled generation)."""
        return True

    @classmethod
    def is_batch(cls, inputs: Any) -> bool:
        """Whether ``inputs`` is a list of items rather than one item (a list input or a chat stays one)."""
        if not isinstance(inputs, list):
            return False
        first = cls.spec.inputs[0]
        if first.kind == "messages":  # a conversation is a list; several are a list of lists
            return bool(inputs) and all(isinstance(i, list) for i in inputs)
        if first.many:
            return False
        return True

    def count_tokens(self, value: Any, special: bool = False) -> int:
        """Tokens of a text (or the sum over a list of texts) for this model's tokenizer (0 without one)."""
        return count_with(getattr(self, "tokenizer", None), value, special)

    @classmethod
    def streams(cls) -> bool:
        """Whether the task makes text piece by piece (``Runner.stream``)."""
        return issubclass(cls, Streaming)

    @classmethod
    def check(cls, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        """Check and decode inputs before any model loads, so bad input fails fast.

        Text must be non-empty; pictures and audio are decoded here (in place),
        so a corrupt file is reported at once and never decoded twice. Safe to
        run more than once on the same inputs.
        """
        for spec in cls.spec.inputs:
            with about(spec.name):
                cls._check_input(spec, inputs, params)

    @classmethod
    def _check_input(cls, spec, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        if spec.name not in inputs:
            return
        value = inputs[spec.name]
        if spec.many and (isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple))):
            value = inputs[spec.name] = [value]
        if spec.many and not value:
            raise InvalidInput(f"{spec.name!r} is empty: give at least one.")
        if spec.many:
            from . import limits

            limits.check("texts", len(value), f"The number of {spec.name!r}")
        if spec.kind == "text":
            for text in value if spec.many else [value]:
                if not isinstance(text, str):
                    raise InvalidInput(f"{spec.name!r} must be text, not {type(text).__name__}.")
                if not text.strip():
                    raise InvalidInput(f"{spec.name!r} is empty: give some text.")
                check_text(text, spec.name)
        elif spec.kind in DECODERS:
            decode = DECODERS[spec.kind]()
            inputs[spec.name] = [decode(v, params, spec.name) for v in value] if spec.many else decode(value, params, spec.name)

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        """Checks that need the loaded model (e.g. its mask token); tasks override."""

    def preprocess(self, inputs: dict[str, Any], **params: Any) -> Any:
        return inputs

    def forward(self, batch: list[Any], **params: Any) -> list[Any]:
        raise NotImplementedError

    def postprocess(self, output: Any, **params: Any) -> Any:
        return output

    @classmethod
    def render(cls, result: Any, inputs: dict[str, Any]) -> str:
        """Readable text for the terminal: the output kind's (see modeldeck.outputs)."""
        from .outputs import to_text

        if cls.spec.nothing_found and not result:
            return cls.spec.nothing_found
        return to_text(cls.spec.output, result, inputs)

    @classmethod
    def check_output(cls, path: Path, params: dict[str, Any] | None = None) -> None:
        """Refuse an output file this task cannot write, before any work: unknown suffix, missing folder."""
        path = Path(path)
        if path.suffix.lower() not in cls.output_suffixes and not cls.format_chosen(params or {}):
            known = ", ".join(s for s in cls.output_suffixes if s)
            raise InvalidInput(
                f"{cls.spec.name} cannot write a {path.suffix or 'suffix-less'} file ({path.name}).",
                f"Name the file with one of: {known}.",
            )
        if not path.parent.is_dir():
            raise InvalidInput(f"The folder {str(path.parent)!r} does not exist.", "Create it first, or pick another path.")

    @classmethod
    def format_chosen(cls, params: dict[str, Any]) -> bool:
        """Whether the parameters name the output format (then any file name will do)."""
        return False

    @classmethod
    def save(cls, result: Any, path: Path, inputs: dict[str, Any]) -> None:
        """Write the result to ``path``; tasks that make pictures or audio override."""
        import json

        from .jsonable import to_jsonable

        path.write_text(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False) + "\n")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name} model={self.model_id} device={self.device}>"


class Streaming:
    """Mixin for generative tasks: a streamed call gets its text as it is made.

    The task implements ``forward_stream(item, emit, **forward_params)``: run on
    the engine's worker for the plan's streamed step, it calls ``emit(piece)``
    for each new piece of text (the pieces join to the result's text) and
    returns what ``forward`` would return for that item.
    """

    def forward_stream(self, item: Any, emit: Callable[[str], None], **params: Any) -> Any:
        raise NotImplementedError
