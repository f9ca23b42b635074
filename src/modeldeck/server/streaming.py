"""One streaming path for every route: a runner's stream opened before the status line, its pieces cut at the
stop sequences, and each API's events written as server-sent events.

The routes differ only in their events (``Events``: OpenAI chat and completion chunks, TGI tokens); opening
the stream, the loop, the failure inside a stream, and stopping the generation when the client leaves are
here once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import StreamingResponse

from .calls import in_thread, stream_in_thread
from .errors import as_client_error
from .text import StopScan


def sse(data: Any) -> str:
    """One server-sent event: a JSON value, or a bare word (OpenAI's ``[DONE]``)."""
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def failure_message(error: Exception) -> tuple[str, bool]:
    """What a stream tells of a failure once its status line is sent, and whether it was the client's."""
    known = as_client_error(error)
    return (known.message, True) if known else ("The server failed.", False)


def warnings(notes: list[str]) -> dict:
    """The stream's notices for its last event (a stream has no headers left to carry them)."""
    return {"warnings": list(dict.fromkeys(notes))} if notes else {}


@dataclass
class Opened:
    """A stream the runner took: its pieces so far, its notices, and whether a stop sequence ended it."""

    runner: Any
    stream: Any
    notes: list[str]
    scan: StopScan
    text: str = field(default="")

    @property
    def stopped(self) -> bool:
        return self.scan.stopped


async def open_stream(get_runner: Callable[[], Any], inputs: Any, params: dict, stops: list[str]) -> Opened:
    """The runner's stream, started: bad input, bad parameters or a full queue raise here, so the route answers
    its 4xx/503 before anything is sent."""
    runner = (await in_thread(get_runner)).result
    made = await in_thread(lambda: runner.stream(inputs, **params))
    return Opened(runner, made.result, list(made.notes), StopScan(stops))


class Events:
    """The events one API writes around a stream's pieces (each a JSON value or a bare word)."""

    def first(self) -> Iterable[Any]:
        return ()

    def piece(self, text: str) -> Iterable[Any]:
        raise NotImplementedError

    def failed(self, error: Exception) -> Iterable[Any]:
        raise NotImplementedError

    async def last(self, opened: Opened) -> AsyncIterator[Any]:
        raise NotImplementedError
        yield


def event_stream(opened: Opened, events: Events) -> StreamingResponse:
    """The stream as server-sent events. A client that goes away stops the generation (closing the pieces
    closes the runner's stream in its thread)."""

    async def written() -> AsyncIterator[str]:
        for event in events.first():
            yield sse(event)
        try:
            pieces = opened.scan.run(stream_in_thread(lambda: opened.stream, opened.notes))
            async with aclosing(pieces):
                async for piece in pieces:
                    opened.text += piece
                    for event in events.piece(piece):
                        yield sse(event)
        except Exception as error:  # noqa: BLE001 - the status line is sent: report it in the stream
            for event in events.failed(error):
                yield sse(event)
            return
        async for event in events.last(opened):
            yield sse(event)

    return StreamingResponse(written(), media_type="text/event-stream")
