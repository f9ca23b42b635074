"""The chat tab: a chat window whose conversation lives in the browser session.

Each browser session has its own history (the Chatbot's value); every message
is sent with the whole conversation so far, and the task keeps what fits the
model's window (dropping the oldest turns, with a notice shown here). Replies
stream when the runner has ``stream``; otherwise they come whole. Retry asks
again for the last reply, Undo takes back the last exchange, Clear starts over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..spec import TaskSpec
from . import components as ui


def is_chat(spec: TaskSpec) -> bool:
    """Whether a task takes a conversation (a messages input): its tab is a chat window."""
    return any(i.kind == "messages" for i in spec.inputs)


def message_text(content: Any) -> str:
    """A Chatbot message's content (text, or a list of {"type": "text", "text"} parts) as text."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return "" if content is None else str(content)


def conversation(history: list | None) -> list[dict[str, str]]:
    """The window's messages as the task's turns ({"role", "content"}), notes left out."""
    turns = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
            continue
        if (message.get("metadata") or {}).get("title"):  # a note shown in the window, not a turn
            continue
        turns.append({"role": message["role"], "content": message_text(message.get("content"))})
    return turns


@dataclass
class ChatTab:
    """The chat tab's widgets and functions (tests drive ``send`` directly)."""

    spec: TaskSpec
    model: gr.Dropdown
    message: gr.Textbox
    chatbot: gr.Chatbot
    params: list
    notes: gr.Markdown
    send: Callable
    retry: Callable
    undo: Callable

    def values(self, params: dict[str, Any] | None = None, model: str | None = None) -> list:
        """The widget values after the message and the history, for ``send`` and ``retry``."""
        return [model, *[(params or {}).get(p.name) for p in self.spec.params]]


def chat_tab(spec: TaskSpec, cached: list[str], gpu: Callable | None, load: Callable[[], Callable],
             allow_folders: bool = False) -> ChatTab:
    """The chat window for ``spec`` (inside an open gr.Tab). ``load()`` gives modeldeck.load."""
    from .messages import chosen_model, model_picker
    from .running import chosen_params, page_errors, results

    gr.Markdown(
        f"**{spec.summary}**  \nDefault model: `{spec.default_model}`. The conversation stays in this "
        "browser tab and is sent with each message; when it outgrows the model's window the oldest turns "
        "are dropped (a note says so).",
        elem_id=ui.elem_id(spec, "summary"),
    )
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Conversation",
                height=420,
                placeholder="Say something to start the conversation.",
                elem_id=ui.elem_id(spec, "out", "chatbot"),
            )
            if chatbot.data_model is not None:  # a history of the wrong shape sent to the API: modeldeck's words
                chatbot.data_model = ui.checked_payloads(chatbot.data_model, "The conversation")
            with gr.Row():
                message = ui.TextInput(
                    label="Message",  # the API's name for the box it empties (shown without its label)
                    show_label=False,
                    placeholder="Your message (Enter sends)",
                    lines=1,
                    max_lines=8,
                    scale=5,
                    elem_id=ui.elem_id(spec, "in", "message"),
                )
                send_button = gr.Button("Send", variant="primary", scale=1, elem_id=ui.elem_id(spec, "run"))
            with gr.Row():
                retry_button = gr.Button("Retry", size="sm", elem_id=ui.elem_id(spec, "retry"))
                undo_button = gr.Button("Undo", size="sm", elem_id=ui.elem_id(spec, "undo"))
                clear_button = gr.Button("Clear", size="sm", elem_id=ui.elem_id(spec, "clear"))
            notes = gr.Markdown("", label="Notes", elem_id=ui.elem_id(spec, "notes"))
        with gr.Column(scale=1):
            model_box = model_picker(spec, cached, allow_folders)
            params = []
            if spec.params:
                with gr.Accordion("Options", open=False):
                    params = [ui.param_widget(spec, param) for param in spec.params]

    def send(text: str, history: list | None, model: str | None, *values: Any) -> Iterator[tuple]:
        """Add the user's message and the reply (streamed) to the window."""
        history = list(history or [])
        text = text or ""
        if not isinstance(text, str):
            raise gr.Error(f"The message must be text, not {type(text).__name__}.", duration=5, print_exception=False)
        if not text.strip():
            raise gr.Error("The message is empty: say something.", duration=5, print_exception=False)
        shown = [*history, {"role": "user", "content": text}]
        try:
            with page_errors():
                chosen = chosen_params(spec, values)
                turns = {spec.inputs[0].name: [*conversation(history), {"role": "user", "content": text}]}
                spec.bind(turns, chosen)  # a bad option fails before a model loads
                model = chosen_model(model, spec, allow_folders)  # hub ids; folders only if the operator allowed them
                found: list[str] = []
                yield [*shown, {"role": "assistant", "content": ""}], "", ""
                for reply, done in results(spec, load, model, turns, chosen, found, streaming=True):
                    reply = ui.text_value(reply).strip() if done else reply  # the whole reply: its text, trimmed
                    yield [*shown, {"role": "assistant", "content": reply}], "", notes_text(found)
        except gr.Error:  # the message goes back in the box, the history as it was; the error in the page
            yield history, text, ""
            raise

    def retry(history: list | None, model: str | None, *values: Any) -> Iterator[tuple]:
        """Ask again for the last reply (the last user message, resent)."""
        history = list(history or [])
        last = max((i for i, m in enumerate(history) if m.get("role") == "user"), default=None)
        if last is None:
            yield history, "", ""
            return
        yield from send(message_text(history[last].get("content")), history[:last], model, *values)

    def undo(history: list | None) -> tuple:
        """Take back the last exchange; its message goes back into the box."""
        history = list(history or [])
        last = max((i for i, m in enumerate(history) if m.get("role") == "user"), default=None)
        if last is None:
            return history, ""
        return history[:last], message_text(history[last].get("content"))

    send.__name__ = f"chat_{spec.name.replace('-', '_')}"
    from .api import named

    # the API endpoint: predict(message, history, model, max_new_tokens, ..., api_name="/chat")
    api_send = named(lambda values, progress: send(*values), ["message", "history", "model", *[p.name for p in spec.params]],
                     1, streams=True, progress=None, name=send.__name__)
    work_send, work_retry = (gpu(api_send), gpu(retry)) if gpu is not None else (api_send, retry)
    inputs = [message, chatbot, model_box, *params]
    outputs = [chatbot, message, notes]
    api = spec.name.replace("-", "_")
    send_button.click(work_send, inputs=inputs, outputs=outputs, api_name=api, concurrency_limit=None)
    message.submit(work_send, inputs=inputs, outputs=outputs, api_name=False, concurrency_limit=None)
    for trigger in (retry_button.click, chatbot.retry):
        trigger(work_retry, inputs=[chatbot, model_box, *params], outputs=outputs, api_name=False, concurrency_limit=None)
    for trigger in (undo_button.click, chatbot.undo):
        trigger(undo, inputs=[chatbot], outputs=[chatbot, message], api_name=False, show_progress="hidden")
    clear_button.click(lambda: ([], "", ""), outputs=[chatbot, message, notes], api_name=False, show_progress="hidden")
    chatbot.clear(lambda: ("", ""), outputs=[message, notes], api_name=False, show_progress="hidden")
    return ChatTab(spec, model_box, message, chatbot, params, notes, send, retry, undo)


def notes_text(found: list[str]) -> str:
    return "\n".join(f"Note: {n}" for n in dict.fromkeys(found))
