"""The runner every task shares: load once, then preprocess -> forward -> postprocess."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

from . import notices, workload
from .engine import Engine, Request, params_key
from .errors import InvalidInput, ModeldeckError, ModelTooLarge, TaskFailed
from .spec import TaskSpec, check_text


def _inference():
    import torch

    return torch.inference_mode()


def wrap(kind: str, result: Any, inputs: dict[str, Any]) -> Any:
    """The result, showing itself in notebooks (pictures drawn on the call's input image, ...)."""
    from .display import wrap as display_wrap

    return display_wrap(kind, result, inputs)


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


class Task:
    """A loaded model for one task; call it with inputs and parameters.

    The contract every task shares (subclasses set ``spec`` and implement the
    steps): ``load`` once; per call ``check`` (before any model loads) and
    ``validate`` (with the model); ``preprocess(inputs, **params)`` per item on
    the CPU, never touching the model; ``forward(batch, **forward_params)``,
    the only device step, on a list of items, run by the model's engine on its
    single worker (it gets only the parameters whose stage is "forward");
    ``postprocess(output, **params)`` per item. ``max_batch_size`` says how
    many items one forward pass takes. Calling a runner with one item is a
    batch of one; calling it with a list of items batches them.
    """

    spec: ClassVar[TaskSpec]
    output_suffixes: ClassVar[tuple[str, ...]] = (".json", "")  # what ``save`` writes (-o FILE)
    max_batch_size: ClassVar[int] = 1
    max_batch_tokens: ClassVar[int] = 16384  # items x longest item's tokens in one pass

    def __init__(self, model_path: Path, model_id: str, device: str = "cpu", **options: Any):
        self.model_path = Path(model_path)
        self.model_id = model_id
        self.device = device
        self.options = options
        self.pool: Any = None  # the pool that leases this runner, when it came from one
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self.load()

    def load(self) -> None:
        """Load the model and its processor from ``self.model_path``."""
        raise NotImplementedError

    # -- calling --------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """This model's engine (request queue + device worker), started on first use."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = Engine(
                    self.forward,
                    name=f"{self.spec.name}:{self.model_id}",
                    max_batch_size=self.max_batch_size,
                    max_batch_tokens=self.max_batch_tokens,
                    batch_wait=self.options.get("batch_wait"),
                )
            return self._engine

    def __call__(self, inputs: Any = None, /, *, on_progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> Any:
        """Run the task on one item, or on a list of items (a list of results back, in order)."""
        many = self.is_batch(inputs)
        calls = [self.spec.bind(item, kwargs) for item in inputs] if many else [self.spec.bind(inputs, kwargs)]
        if many and not calls:
            return []
        workload.check(self, calls)  # the request's total work (items, tokens, pixels x steps) within budget
        with self.lease(), notices.listening(on_progress=on_progress), self.failures():
            engine = self.engine
            with engine.arriving(len(calls)):
                requests = [self._request(bound, params) for bound, params in calls]
                futures = engine.submit(requests)
            results = []
            for future, (bound, params) in zip(futures, calls):
                output = engine.result(future)
                with _inference():
                    results.append(wrap(self.spec.output, self.postprocess(output, **params), bound))
        return results if many else results[0]

    @contextmanager
    def failures(self):
        """Errors from the libraries underneath, as modeldeck errors naming the task and model."""
        try:
            yield
        except ModeldeckError:
            raise
        except Exception as e:  # noqa: BLE001 - re-raised as a modeldeck error, the original chained
            raise self.failure(e) from e

    def failure(self, error: Exception) -> ModeldeckError:
        """A modeldeck error for a library error that escaped the task's own checks."""
        text = str(error).splitlines()[0][:300] if str(error) else ""
        if isinstance(error, MemoryError) or "can't allocate" in text or "out of memory" in text.lower():
            return ModelTooLarge(
                f"Ran out of memory running {self.spec.name} on {self.model_id} ({text}).",
                "Ask for less (shorter input, fewer tokens, beams or images), or free memory and try again.",
            )
        return TaskFailed(
            f"{self.spec.name} on {self.model_id} failed: {type(error).__name__}: {text}",
            "This input or setting is one the model could not handle; run again with --debug (Python: see the "
            "chained exception) for the traceback, and report it if it looks like a bug.",
        )

    def _request(self, bound: dict[str, Any], params: dict[str, Any]) -> Request:
        """Check, validate and preprocess one item into a request for the engine."""
        self.check(bound, params)
        self.validate(bound, params)
        workload.check(self, [(bound, params)])  # again with pictures decoded: their sizes set the work
        with _inference():
            item = self.preprocess(bound, **params)
        forward_params = self.spec.params_for("forward", params)
        return Request(item, forward_params, params_key(forward_params), self.cost(item), not self.can_batch(params))

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

    def cost(self, item: Any) -> int:
        """The item's size for the batch token budget (tasks with token inputs count tokens)."""
        return 1

    def can_batch(self, params: dict[str, Any]) -> bool:
        """Whether a request with these parameters may share a forward pass (not for sampled generation)."""
        return True

    def lease(self):
        """Hold this runner in memory for the block: the pool never evicts a leased runner."""
        return self.pool.lease(self) if self.pool is not None else nullcontext()

    def unload(self) -> None:
        """Free the model: stop the engine and drop everything ``load`` made (the pool calls this)."""
        with self._engine_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()
        keep = {"model_path", "model_id", "device", "options", "pool", "pool_key", "_engine", "_engine_lock"}
        for name in [n for n in vars(self) if n not in keep]:
            delattr(self, name)
        self.loaded = False

    def reload(self) -> None:
        """Load again after ``unload``."""
        self.load()
        self.loaded = True

    loaded = True
    pool_key: tuple | None = None

    @classmethod
    def check(cls, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        """Check and decode inputs before any model loads, so bad input fails fast.

        Text must be non-empty; pictures and audio are decoded here (in place),
        so a corrupt file is reported at once and never decoded twice. Safe to
        run more than once on the same inputs.
        """
        for spec in cls.spec.inputs:
            if spec.name not in inputs:
                continue
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
        """Readable text for the terminal; tasks override for their own output."""
        from .render import render

        return render(cls.spec.output, result, inputs)

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
    """Mixin for generative tasks: ``stream()`` yields the text as it is made.

    The task implements ``forward_stream(item, emit, **forward_params)``: run on
    the engine's worker, it calls ``emit(piece)`` for each new piece of text
    (the pieces join to the result's text) and returns what ``forward`` would
    return for that item.
    """

    def stream(self, inputs: Any = None, /, **kwargs: Any) -> Iterator[str]:
        """The text piece by piece, as the model makes it."""
        bound, params = self.spec.bind(inputs, kwargs)
        self.check(bound, params)
        self.validate(bound, params)
        workload.check(self, [(bound, params)])
        with self.lease(), self.failures():
            with _inference():
                item = self.preprocess(bound, **params)
            forward_params = self.spec.params_for("forward", params)
            yield from self.engine.stream(lambda emit: self.forward_stream(item, emit, **forward_params))

    def forward_stream(self, item: Any, emit: Callable[[str], None], **params: Any) -> Any:
        raise NotImplementedError
