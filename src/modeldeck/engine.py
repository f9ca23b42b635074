"""One engine per loaded model: a request queue, futures, fair dynamic batching and a single device worker.

Callers (threads of the UI, of Python code, of a server) prepare their own
items, then submit them here. The worker takes the oldest request and gathers
queued requests that can share its forward pass (same forward parameters and
batch key, within the task's batch limit and token budget), taking them round
robin across calls, so a call split into many sub-items (QA windows, text
chunks, audio windows) shares each pass with short calls instead of holding the
queue. It waits at most ``batch_wait`` seconds for callers still preparing
theirs, then runs one forward pass for all of them. Each caller gets exactly
its own output.

A request's model step runs in a copy of its caller's context, so progress
reaches the caller from the worker. Notices raised during a pass belong to
the item they were raised for (``notices.for_item``); the engine hands each
caller its own.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from . import notices
from .errors import InvalidInput, ModeldeckError

DEFAULT_BATCH_WAIT_MS = 5.0
DEFAULT_BATCH_TOKENS = 16384
IDLE_CHECK = 10.0  # seconds between an idle worker's checks that its model still exists


def batch_wait_from_env() -> float:
    """``MODELDECK_BATCH_WAIT_MS`` in seconds (0 turns batching off)."""
    raw = os.environ.get("MODELDECK_BATCH_WAIT_MS", "").strip()
    if not raw:
        return DEFAULT_BATCH_WAIT_MS / 1000
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 10_000:
        raise InvalidInput(f"MODELDECK_BATCH_WAIT_MS={raw!r} is not a number of milliseconds from 0 to 10000.")
    return value / 1000


class EngineClosed(ModeldeckError, RuntimeError):
    """The model was unloaded before a request reached it."""


@dataclass(eq=False)
class Request:
    """One item waiting for the device: its forward parameters, batch key, cost in tokens and future."""

    item: Any
    params: dict[str, Any]
    key: Any = None  # requests share a pass only when their keys are equal
    cost: int = 1
    solo: bool = False  # never batched with others (sampled generation, streaming jobs)
    owner: Any = None  # the call it belongs to: batches take calls' sub-items in turn
    job: Callable[[], Any] | None = None  # a whole job run on the worker instead of forward([item])
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    future: Future = field(default_factory=Future)


def params_key(params: dict[str, Any]) -> Any:
    """A hashable key for a dict of parameters (lists become tuples)."""

    def freeze(value):
        if isinstance(value, dict):
            return tuple(sorted((k, freeze(v)) for k, v in value.items()))
        if isinstance(value, (list, tuple)):
            return tuple(freeze(v) for v in value)
        try:
            hash(value)
            return value
        except TypeError:
            return repr(value)

    return freeze(params)


class Engine:
    """Runs ``forward(batch, **params)`` for one loaded model on a single worker thread."""

    def __init__(
        self,
        forward: Callable[..., list],
        *,
        name: str = "model",
        max_batch_size: int = 1,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        batch_wait: float | None = None,
    ):
        # A bound method is held weakly: a model nobody holds any more is freed, and its worker ends.
        self._forward = weakref.WeakMethod(forward) if hasattr(forward, "__self__") else (lambda: forward)
        self.name = name
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_batch_tokens = max_batch_tokens
        self.batch_wait = batch_wait_from_env() if batch_wait is None else batch_wait
        self.stats: Counter = Counter()  # forward_passes, items, jobs; batch sizes under ("size", n)
        self._pending: deque[Request] = deque()
        self._arriving = 0  # callers preparing items they are about to submit
        self._recent = 1  # the last batch's size: how many callers are likely to come back for more
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name=f"modeldeck-engine[{name}]", daemon=True)
        self._thread.start()

    # -- callers --------------------------------------------------------------------------------

    def arriving(self, count: int = 1) -> _Arrival:
        """``with engine.arriving(n):`` tells the worker n items are being prepared, worth waiting for."""
        return _Arrival(self, count)

    def submit(self, requests: list[Request]) -> list[Future]:
        """Queue requests (together, so they can share a pass); their futures give (output, notices)."""
        with self._cond:
            if self._closed:
                raise EngineClosed(f"{self.name} was unloaded.", "Call again: it loads anew.")
            self._pending.extend(requests)
            self._cond.notify_all()
        return [r.future for r in requests]

    @staticmethod
    def result(future: Future) -> Any:
        """The output of a submitted request; the notices its pass raised for it are told here."""
        output, told = future.result()
        for message in told:
            notices.notice(message)
        return output

    def stream(self, job: Callable[[Callable[[Any], None]], Any], owner: Any = None) -> Iterator[Any]:
        """Run ``job(emit)`` on the worker and yield what it emits as it emits it; returns the job's output.

        Closing the iterator early (a client that went away) makes the next
        ``emit`` raise, which stops the job.
        """
        pieces: queue.Queue = queue.Queue()
        done = object()
        cancelled = threading.Event()

        def emit(piece: Any) -> None:
            if cancelled.is_set():
                raise _Cancelled()
            pieces.put(piece)

        request = Request(None, {}, solo=True, owner=owner, job=lambda: job(emit))
        future = self.submit([request])[0]
        future.add_done_callback(lambda _: pieces.put(done))  # also when the request never ran
        try:
            while True:
                piece = pieces.get()
                if piece is done:
                    break
                yield piece
            return self.result(future)  # raises the job's error, re-tells its notices
        finally:
            cancelled.set()

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Take no more requests; the worker finishes what is queued, then ends. Never waits for it."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the worker -----------------------------------------------------------------------------

    def _take(self) -> list[Request] | None:
        """The next batch: the oldest request and compatible ones, waiting briefly for arrivals."""
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                if not self._cond.wait(IDLE_CHECK) and self._forward() is None:
                    self._closed = True  # the model is gone: nobody can submit any more
            first = self._pending.popleft()
            batch = [first]
            if first.solo or first.job is not None or self.max_batch_size == 1:
                return batch
            deadline = time.monotonic() + self.batch_wait
            while True:
                self._gather(batch)
                full = len(batch) >= self.max_batch_size
                left = deadline - time.monotonic()
                # Worth waiting for: callers preparing items now, or (under steady load) the callers of
                # the last batch, who are reading their answers and about to send their next requests.
                expected = self._arriving > 0 or len(batch) < self._recent
                if full or left <= 0 or not expected or self._closed:
                    self._recent = len(batch)
                    return batch
                self._cond.wait(left)

    def _gather(self, batch: list[Request]) -> None:
        """Move queued requests that can share ``batch``'s pass into it, within size and token budget:
        one per call per round, oldest call first, so a call split into many sub-items never crowds
        out the calls behind it."""
        key = batch[0].key
        longest = max(r.cost for r in batch)
        this_round = {r.owner for r in batch if r.owner is not None}
        while len(batch) < self.max_batch_size:
            added = False
            for request in list(self._pending):
                if len(batch) >= self.max_batch_size:
                    return
                if request.solo or request.job is not None or request.key != key:
                    continue
                if request.owner is not None and request.owner in this_round:
                    continue  # this call had its turn this round
                longest_with = max(longest, request.cost)
                if longest_with * (len(batch) + 1) > self.max_batch_tokens:
                    continue
                self._pending.remove(request)
                batch.append(request)
                longest, added = longest_with, True
                if request.owner is not None:
                    this_round.add(request.owner)
            if not added and not this_round:
                return  # a whole fresh round found nothing more
            this_round = set()

    def _work(self) -> None:
        import torch

        while True:
            batch = self._take()
            if batch is None:
                return
            with torch.inference_mode():
                if batch[0].job is not None:
                    self._run_job(batch[0])
                else:
                    self._run(batch)
            del batch  # the items (and their tensors) go as soon as their callers have them

    def _run_job(self, request: Request) -> None:
        self.stats["jobs"] += 1
        told: list[list[str]] = [[]]
        try:
            output = request.context.run(_collecting, told, request.job)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            request.future.set_exception(e)
        else:
            request.future.set_result((output, told[0]))

    def _run(self, batch: list[Request]) -> None:
        told: list[list[str]] = [[] for _ in batch]
        items = [r.item for r in batch]
        self.stats["forward_passes"] += 1
        self.stats["items"] += len(batch)
        self.stats[("size", len(batch))] += 1
        try:
            forward = self._forward()
            if forward is None:
                raise EngineClosed(f"{self.name} was unloaded.", "Load it again.")
            # A single request runs in its caller's context (its progress listener); a batch in the first's.
            outputs = batch[0].context.run(_collecting, told, lambda: forward(items, **batch[0].params))
            if len(outputs) != len(items):
                raise RuntimeError(f"forward returned {len(outputs)} outputs for {len(items)} items")
        except BaseException as e:  # noqa: BLE001
            if len(batch) > 1:  # find the item at fault: the others still get their answers
                self.stats["retried_alone"] += len(batch)
                for request in batch:
                    self._run([request])
                return
            batch[0].future.set_exception(e)
            return
        for request, output, own in zip(batch, outputs, told):
            request.future.set_result((output, own))


class _Cancelled(Exception):
    """The reader of a stream went away."""


class _Arrival:
    def __init__(self, engine: Engine, count: int):
        self.engine, self.count = engine, count

    def __enter__(self):
        with self.engine._cond:
            self.engine._arriving += self.count
        return self

    def __exit__(self, *exc):
        with self.engine._cond:
            self.engine._arriving -= self.count
            self.engine._cond.notify_all()


def _collecting(told: list[list[str]], fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with notices collected per item of its batch (a notice for no item in particular
    goes to every item: it is about the whole pass)."""

    def route(message: str) -> None:
        index = notices.current_item()
        for i, own in enumerate(told):
            if index is None or index == i:
                own.append(message)

    with notices.listening(on_notice=route):
        return fn()
