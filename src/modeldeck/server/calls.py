"""Running a task for a request: in a worker thread, with its notices; streams bridged to the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from .. import notices

# Worker threads for model calls: enough that every admitted request can wait on its engine at once
# (waiting requests are what the engine batches together).
THREADS = 256
_limiter: anyio.CapacityLimiter | None = None


def limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(THREADS)
    return _limiter


@dataclass
class Outcome:
    """A call's result and the notices it raised (shown to the client in a header)."""

    result: Any
    notes: list[str] = field(default_factory=list)


async def in_thread(fn: Callable[[], Any]) -> Outcome:
    """Run ``fn()`` in a worker thread, collecting its notices there (never on the event loop)."""

    def run() -> Outcome:
        with notices.collected() as notes:
            result = fn()
        return Outcome(result, notes)

    return await anyio.to_thread.run_sync(run, limiter=limiter())


async def stream_in_thread(make: Callable[[], Iterator[Any]], notes: list[str] | None = None) -> AsyncIterator[Any]:
    """The items of a blocking iterator, made and read in a thread; stopping early closes it there.
    The stream's notices go into ``notes`` (told to the client in the stream's last event).

    When the consumer stops (the client went away, or it has what it needs),
    the thread closes the iterator after its next item, which stops the
    generation on the model's worker.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone (server shutting down)
            stop.set()

    def produce() -> None:
        iterator = None
        try:
            sink = notes if notes is not None else []
            with notices.listening(on_notice=sink.append):  # never warned process-wide
                iterator = make()
                for item in iterator:
                    if stop.is_set():
                        break
                    put("item", item)
            put("done", None)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            put("error", error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    threading.Thread(target=produce, name="modeldeck-server-stream", daemon=True).start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
