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
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


class ModelReplica:
    """Loads ``model`` for ``task`` at start; a node without the model fails here, naming the node."""

    def __init__(self, task: str, model: str | None):
        import modeldeck

        from ..errors import ModeldeckError

        self.task, self.model = task, model
        self.place = where()
        try:
            self.runner = modeldeck.load(task, model)
        except ModeldeckError as e:
            import socket

            e.message = f"On node {socket.gethostname()} ({self.place['node'][:12]}): {e.message}"
            e.hint = (e.hint or "") + (" Every node resolves models itself: run 'modeldeck pull MODEL' on each "
                                       "node, install the model's package there, or point HF_HUB_CACHE at a "
                                       "shared cache.")
            raise RuntimeError(str(e)) from None  # plain text: Serve shows it as the replica's error
        self.pool = ThreadPoolExecutor(max_workers=REPLICA_ONGOING, thread_name_prefix="modeldeck-replica")

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
        return {"result": result, "notes": notes, **self.place}

    async def call(self, inputs: Any, params: dict) -> dict[str, Any]:
        """The runner's answer, its notices, and where it ran."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._run, inputs, params)

    async def stream(self, inputs: Any, params: dict):
        """Pieces of a generated text; the first item says where it runs, an error item ends it."""
        yield {"start": True, **self.place}
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def produce():
            iterator = None
            try:
                iterator = self.runner.stream(inputs, **params)
                for piece in iterator:
                    if stop.is_set():
                        break
                    pieces.put({"piece": piece})
                pieces.put(None)
            except Exception as error:  # noqa: BLE001 - reported in the stream
                known = as_data(error)
                pieces.put({"error": known} if known else {"failed": f"{type(error).__name__}: {error}"})
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()

        loop = asyncio.get_running_loop()
        self.pool.submit(produce)
        try:
            while True:
                item = await loop.run_in_executor(None, pieces.get)
                if item is None:
                    return
                yield item
                if "error" in item or "failed" in item:
                    return
        finally:
            stop.set()
