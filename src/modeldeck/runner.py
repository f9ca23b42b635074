"""The runner every interface calls: a stable handle over a model loaded for a task.

``modeldeck.load()`` gives a Runner; the CLI, the UI, the server and the Ray
replicas use only what is here: call it, stream from it, read its ``spec``,
count tokens, ask an informational question (``info``), read its ``stats``;
the CLI also shows and saves results through it (``render``, ``save``, ``info_text``).
The model itself is a loaded state (a ``Task``) that the pool swaps in and out
behind the handle: the only way to it is a lease, and a state is never changed
once loaded, so nothing is taken from a call still using it. A failed reload
leaves the handle as it was: the next call tries again.

Admission is bounded: a runner takes at most ``max_queue`` calls at once
(waiting or running); the next is refused at once with ``ModelBusy``, before
any work, so a server can answer 503 before it has sent anything.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import notices, workload
from .errors import InvalidInput, ModelBusy, ModeldeckError

DEFAULT_MAX_QUEUE = 256


def max_queue_from_env() -> int:
    """``MODELDECK_MAX_QUEUE``: calls one model takes at once (waiting or running)."""
    raw = os.environ.get("MODELDECK_MAX_QUEUE", "").strip()
    if not raw:
        return DEFAULT_MAX_QUEUE
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise InvalidInput(f"MODELDECK_MAX_QUEUE={raw!r} is not a whole number from 1 to 1000000.")
    return int(raw)


def wrap(kind: str, result: Any, inputs: dict[str, Any]) -> Any:
    """The result, showing itself in notebooks (pictures drawn on the call's input image, ...)."""
    from .outputs.notebook import wrap as display_wrap

    return display_wrap(kind, result, inputs)


class Runner:
    """A model loaded for a task, callable from any thread: ``runner(inputs, **params)``."""

    def __init__(self, pool, key: tuple, task: type, model_id: str, device: str, options: dict[str, Any]):
        self._pool = pool
        self.key = key
        self.task = task  # the Task class: its spec, and its classmethods for showing and saving results
        self.model_id = model_id  # the model asked for; once loaded, the id it resolved to
        self.device = device
        self.options = dict(options)
        self.max_queue = int(options.get("max_queue") or max_queue_from_env())
        self.runtime, self.precision = "torch", None  # what ran it, said by the loaded model
        self.admission = Admission(self.max_queue, lambda: self.model_id)

    @property
    def spec(self):
        return self.task.spec

    @property
    def streams(self) -> bool:
        """Whether ``stream()`` gives the text piece by piece."""
        return self.task.streams()

    # -- calling ----------------------------------------------------------------------------------

    def __call__(self, inputs: Any = None, /, *, on_progress: Callable[[int, int], None] | None = None,
                 **kwargs: Any) -> Any:
        """Run the task on one item, or on a list of items (a list of results back, in order)."""
        many = self.task.is_batch(inputs)
        calls = [self.spec.bind(item, kwargs) for item in inputs] if many else [self.spec.bind(inputs, kwargs)]
        if many and not calls:
            return []
        workload.check(self.task, calls)  # the request's total work (items, tokens, pixels x steps) within budget
        with self._admitted(), notices.listening(on_progress=on_progress), self.failures():
            for bound, params in calls:
                self.task.check(bound, params)
            with self._pool.lease(self) as state:
                results = run_calls(state, calls)
        results = [wrap(self.spec.output, result, bound) for result, (bound, _) in zip(results, calls)]
        return results if many else results[0]

    def stream(self, inputs: Any = None, /, **kwargs: Any) -> Stream:
        """The text piece by piece, as the model makes it; the pieces join to the result's text.

        Everything that can be refused is refused here, before the first piece:
        bad input, a full queue (ModelBusy), a model that does not load.
        """
        if not self.streams:
            raise InvalidInput(f"{self.spec.name} does not stream: it answers whole.", "Call the runner instead.")
        bound, params = self.spec.bind(inputs, kwargs)
        workload.check(self.task, [(bound, params)])
        release = self._admit()
        try:
            with self.failures():
                self.task.check(bound, params)
                lease = self._pool.lease(self)
                state = lease.__enter__()
        except BaseException:
            release(ok=False)
            raise
        pieces = self._pieces(state, bound, params)

        def done(ok: bool) -> None:
            lease.__exit__(None, None, None)
            release(ok)

        return Stream(pieces, done)

    def _pieces(self, state, bound, params) -> Generator[str, None, Any]:
        with self.failures():
            return (yield from stream_call(state, bound, params))

    # -- what interfaces read ---------------------------------------------------------------------

    def info(self, name: str) -> Any:
        """The answer to an informational flag of the spec (e.g. ``list_languages``)."""
        if name not in {i.name for i in self.spec.infos}:
            raise InvalidInput(f"{self.spec.name} has no information named {name!r}.")
        with self._pool.lease(self) as state, state.lock:
            return getattr(state, name)()

    def info_text(self, name: str, value: Any) -> str | None:
        """How the terminal shows an information's answer (e.g. a table of languages); None: as JSON."""
        render_info = getattr(self.task, "render_info", None)
        return render_info(name, value) if render_info is not None else None

    def render(self, result: Any, inputs: dict[str, Any]) -> str:
        """A result of this runner's as readable text for the terminal."""
        return self.task.render(result, inputs)

    def save(self, result: Any, path: Path, inputs: dict[str, Any]) -> list:
        """Write a result of this runner's to ``path`` (-o FILE); gives every file written."""
        return self.task.save(result, Path(path), inputs) or [path]

    def count_tokens(self, value: Any, special: bool = False) -> int:
        """Tokens of a text, a list of texts (summed), or a conversation as the model reads it (chat); 0 when
        the model has no tokenizer.
        A count is informative: it never fails a call."""
        try:
            with self._pool.lease(self) as state, state.lock:
                return state.count_tokens(value, special)
        except Exception:  # noqa: BLE001
            return 0

    def stats(self) -> dict[str, Any]:
        """Calls in flight and answered, the queue and the forward passes of the model now loaded."""
        engine = self._pool.engine_of(self)
        figures = dict(engine.stats) if engine else {}
        return {
            "in_flight": self.admission.in_flight, "max_queue": self.max_queue,
            "queue_depth": engine.queue_depth if engine else 0,
            "forward_passes": figures.get("forward_passes", 0), "items": figures.get("items", 0),
            "batch_sizes": {key[1]: count for key, count in figures.items() if isinstance(key, tuple)},
            **{name: self.admission.counts[name] for name in ("answered", "failed", "refused")},
        }

    @contextmanager
    def leased(self) -> Iterator[Any]:
        """The loaded model itself, held for the block (for tests and tools, not for interfaces)."""
        with self._pool.lease(self) as state:
            yield state

    # -- admission and errors ---------------------------------------------------------------------

    def _admitted(self):
        return self.admission.held()

    def _admit(self) -> Callable[[bool], None]:
        return self.admission.enter()

    @contextmanager
    def failures(self):
        """Errors from the libraries underneath, as modeldeck errors naming the task and model."""
        try:
            yield
        except ModeldeckError:
            raise
        except Exception as e:  # noqa: BLE001 - re-raised as a modeldeck error, the original chained
            from .task import failure

            raise failure(self.spec.name, self.model_id, e) from e

    def __repr__(self) -> str:
        return f"<Runner {self.spec.name} model={self.model_id} device={self.device}>"


class Admission:
    """At most ``limit`` calls at once, waiting or running; the next is refused at once (ModelBusy)."""

    def __init__(self, limit: int, name: Callable[[], str]):
        self.limit, self.name = limit, name
        self.in_flight = 0
        self.counts: Counter = Counter()  # calls answered, failed, refused
        self._lock = threading.Lock()

    def enter(self) -> Callable[[bool], None]:
        """Take a place, or refuse; gives the function that gives the place back (ok: answered or failed)."""
        with self._lock:
            if self.in_flight >= self.limit:
                self.counts["refused"] += 1
                raise ModelBusy(
                    f"{self.name()} has {self.in_flight} calls waiting or running already, its limit.",
                    "Try again in a moment, or raise the limit: MODELDECK_MAX_QUEUE (Python: "
                    "modeldeck.load(..., max_queue=N); server: --queue-size).",
                )
            self.in_flight += 1
        given_back = False

        def release(ok: bool) -> None:
            nonlocal given_back
            with self._lock:
                if not given_back:
                    given_back = True
                    self.in_flight -= 1
                    self.counts["answered" if ok else "failed"] += 1

        return release

    @contextmanager
    def held(self):
        release = self.enter()
        ok = False
        try:
            yield
            ok = True
        finally:
            release(ok)


class Stream:
    """The pieces of a streamed call; ``result`` holds the whole result once the last piece is read.

    Closing it early (or dropping it) stops the generation and gives the model's place back.
    """

    def __init__(self, pieces: Generator[str, None, Any], done: Callable[[bool], None]):
        self._pieces, self._done = pieces, done
        self._closed = False
        self.result: Any = None

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        if self._closed:
            raise StopIteration
        try:
            return next(self._pieces)
        except StopIteration as stop:
            self.result = stop.value
            self._finish(True)
            raise StopIteration from None
        except BaseException:
            self._finish(False)
            raise

    def close(self) -> None:
        if not self._closed:
            self._pieces.close()
            self._finish(True)

    def _finish(self, ok: bool) -> None:
        if not self._closed:
            self._closed = True
            self._done(ok)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()


# -- asked of a task before its model loads ---------------------------------------------------------


def check_before_loading(task: str, items: list, params: dict[str, Any], output: Path | None = None) -> None:
    """Refuse, before any model loads, what calls of ``task`` on ``items`` would refuse: bad input (the task's
    own checks; media are decoded in place), more work, over the items together, than the budget allows, and
    an ``output`` file the task cannot write (an unknown suffix, a missing folder)."""
    from .pipelines import get_task

    task_cls = get_task(task)
    calls = []
    for item in items:  # each item checked as it is bound: the first bad one is the one named
        calls.append(task_cls.spec.bind(item, params))
        task_cls.check(*calls[-1])
    workload.check(task_cls, calls)
    if output is not None:
        task_cls.check_output(Path(output), params)


def task_streams(task: str) -> bool:
    """Whether ``task``'s runners give their text piece by piece (``Runner.stream``), known before loading."""
    from .pipelines import registry

    task_cls = registry().get(task)
    return task_cls is not None and task_cls.streams()


# -- driving the steps of calls ----------------------------------------------------------------------


def run_calls(state, calls: list[tuple[dict, dict]]) -> list[Any]:
    """Run the plans of ``calls`` on a leased model: each step's items from every call go to the engine
    together (so they can share passes), and each call gets its own result."""
    engine = state.engine
    owners = [object() for _ in calls]
    plans = [state.plan(bound, params) for bound, params in calls]
    results: list[Any] = [None] * len(calls)
    steps: dict[int, Any] = {}

    def advance(i: int, outputs: Any) -> None:
        try:
            steps[i] = state.advance(plans[i], outputs)
        except StopIteration as stop:
            results[i] = stop.value
            steps.pop(i, None)

    with engine.arriving(len(calls)):  # the worker waits briefly for items being prepared
        with state.lock:
            for bound, params in calls:
                state.validate(bound, params)
            workload.check(state, calls)  # again with pictures decoded and the model's defaults known
        for i in range(len(calls)):
            advance(i, None)
    while steps:
        submitted = {
            i: engine.submit([state.request(item, calls[i][1], owners[i]) for item in step.items]) if step.items else []
            for i, step in steps.items()
        }
        outputs = {i: [engine.result(future) for future in futures] for i, futures in submitted.items()}
        for i, out in outputs.items():
            advance(i, out)
    return results


def stream_call(state, bound: dict, params: dict) -> Generator[str, None, Any]:
    """One call's plan with its text streamed: pieces from streamed steps as the model makes them, and
    what the plan itself emits; returns the call's result."""
    engine = state.engine
    owner = object()
    emitted: list[str] = []
    plan = state.plan(bound, params, emit=emitted.append)
    forward_params = state.spec.params_for("forward", params)
    outputs: Any = None
    with state.lock:
        state.validate(bound, params)
        workload.check(state, [(bound, params)])
    while True:
        try:
            step = state.advance(plan, outputs)
        except StopIteration as stop:
            yield from _drain(emitted)
            return stop.value
        yield from _drain(emitted)
        if step.stream and len(step.items) == 1:
            item = step.items[0]
            output = yield from engine.stream(lambda emit: state.forward_stream(item, emit, **forward_params), owner)
            outputs = [output]
        else:
            futures = engine.submit([state.request(item, params, owner) for item in step.items])
            outputs = [engine.result(future) for future in futures]


def _drain(pieces: list[str]) -> Iterator[str]:
    while pieces:
        piece = pieces.pop(0)
        if piece:
            yield piece
