"""One model replica: a pooled runner inside a Ray Serve replica, called by the ingress through a handle.

Calls run on a thread pool sized to the replica's concurrency, so requests that
arrive together wait on the runner's engine together and are batched by it
(the engine's batch contract, unchanged). Errors for people travel as data:
a modeldeck error's hint would not survive Ray's pickling of exceptions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..outputs import for_transport
from .plan import REPLICA_ONGOING


def where() -> dict[str, Any]:
    """This replica's node and process (the ingress counts answers by node)."""
    import ray

    context = ray.get_runtime_context()
    return {"node": context.get_node_id(), "pid": os.getpid()}


def as_data(error: BaseException) -> dict[str, Any] | None:
    """A modeldeck or client error as plain data; None for anything else (a real failure)."""
    from ..errors import ModeldeckError
    from ..server.errors import ClientError

    if isinstance(error, ClientError):
        return {"client": dataclasses.asdict(error)}
    if isinstance(error, ModeldeckError):
        kind = type(error)
        return {"module": kind.__module__, "name": kind.__qualname__, "message": error.message, "hint": error.hint,
                "param": error.param}
    from ..engine import EngineClosed

    if isinstance(error, EngineClosed):
        return {"module": "modeldeck.engine", "name": "EngineClosed", "message": str(error), "hint": None}
    return None


def load_runner(task: str, model: str | None, place: dict[str, Any], max_queue: int | None = None):
    """The model, loaded now (before Serve sends the replica any request); a node without it fails the
    replica's start with the node's name and the fix, in plain text (what ``serve status`` shows)."""
    import modeldeck

    from ..errors import ModeldeckError

    try:
        options = {"max_queue": max_queue} if max_queue else {}
        return modeldeck.load(task, model, **options)
    except ModeldeckError as e:
        import socket

        e.message = f"On node {socket.gethostname()} ({place['node'][:12]}): {e.message}"
        e.hint = (e.hint or "") + (" Every node resolves models itself: run 'modeldeck pull MODEL' on each "
                                   "node, install the model's package there, or point HF_HUB_CACHE at a "
                                   "shared cache.")
        raise RuntimeError(str(e)) from None  # plain text: Serve shows it as the replica's error


def threads() -> int:
    """Intra-op threads torch uses here (Ray sets OMP_NUM_THREADS from the replica's CPUs)."""
    import torch

    return torch.get_num_threads()


class ModelReplica:
    """Loads ``model`` for ``task`` at start; a node without the model fails here, naming the node."""

    def __init__(self, task: str, model: str | None):
        self.task, self.model = task, model
        self.place = where()
        self.runner = load_runner(task, model, self.place)
        self.pool = ThreadPoolExecutor(max_workers=REPLICA_ONGOING, thread_name_prefix="modeldeck-replica")
        self.pieces_streamed = 0  # pieces sent by every stream (a stopped stream stops adding to it)
        self._count = threading.Lock()

    def _run(self, inputs: Any, params: dict) -> dict[str, Any]:
        from .. import notices

        try:
            with notices.collected() as notes:
                info = params.pop("_info", None)
                result = self.runner.info(info) if info else self.runner(inputs, **params)
        except Exception as error:
            known = as_data(error)
            if known is None:
                raise
            return {"error": known, **self.place}
        return {"result": for_transport(self.runner.spec.output, result), "notes": notes, **self.place}

    async def call(self, inputs: Any, params: dict) -> dict[str, Any]:
        """The runner's answer, its notices, and where it ran."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._run, inputs, params)

    def stats(self) -> dict[str, Any]:
        """The runner's figures (calls in flight, batch sizes...), where it runs, and its threads."""
        return {**self.runner.stats(), **self.place, "threads": threads(), "pieces_streamed": self.pieces_streamed}

    async def stream(self, inputs: Any, params: dict):
        """A generated text piece by piece, as the model makes it.

        The first item is the verdict: ``{"start": ...}`` once the runner took the call (input checked,
        a place in its queue), or an error item (bad input, a full queue) before any piece; the ingress
        waits for it, so refusals are answered before the HTTP status line. Then ``{"piece": ...}``
        items, and ``{"end": ..., "result", "notes"}``. When the ingress cancels (its client went away),
        the generation stops after its next piece and gives the model back.
        """
        from .. import notices

        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def put(item: dict) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the replica's loop is gone (shutting down)
                stop.set()

        def produce() -> None:
            stream = None
            try:
                with notices.collected() as notes:
                    stream = self.runner.stream(inputs, **params)  # refusals raise here, before any piece
                put({"start": True, "notes": list(notes), **self.place})
                with notices.collected() as notes:
                    for piece in stream:
                        if stop.is_set():
                            return
                        with self._count:
                            self.pieces_streamed += 1
                        put({"piece": piece})
                put({"end": True, "result": stream.result, "notes": list(notes)})
            except Exception as error:  # noqa: BLE001 - reported in the stream
                known = as_data(error)
                put({"error": known} if known else {"failed": f"{type(error).__name__}: {error}"})
            finally:
                if stream is not None:
                    stream.close()  # stops the generation on the engine's worker when it is not done

        self.pool.submit(produce)
        try:
            while True:
                item = await items.get()
                yield item
                if "end" in item or "error" in item or "failed" in item:
                    return
        finally:
            stop.set()  # cancelled (the client left) or done: the producer stops at its next piece
