"""A UI server whose chat runner records what the page sends it (for the browser tests).

``python -m tests.ui.chat_server PORT RECORD``: the chat tab only, on 127.0.0.1:PORT; each call
of the chat runner (plain or streamed) appends its inputs as one JSON line to RECORD.
"""

from __future__ import annotations

import json
import sys
import threading

import modeldeck
from modeldeck.ui.app import build_app, launch


def recording_load(record: str):
    real_load = modeldeck.load
    lock = threading.Lock()

    def write(inputs):
        with lock, open(record, "a") as out:
            out.write(json.dumps(inputs["messages"]) + "\n")

    def load(*args, **kwargs):
        runner = real_load(*args, **kwargs)

        class Recording:
            streams = runner.streams

            def __call__(self, inputs, **params):
                write(inputs)
                return runner(inputs, **params)

        if runner.streams:
            def stream(inputs, **params):
                write(inputs)
                yield from runner.stream(inputs, **params)

            Recording.stream = staticmethod(stream)
        return Recording()

    return load


def main() -> None:
    port, record = int(sys.argv[1]), sys.argv[2]
    modeldeck.load = recording_load(record)
    app = build_app(["chat"])
    url = launch(app, port=port)
    print(f"modeldeck UI: {url}", flush=True)
    app.block_thread()


if __name__ == "__main__":
    main()
