"""OpenAI chat and text completions: one generation loop for both, and their stream chunks on the shared
streaming path."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .calls import in_thread
from .errors import ClientError
from .openai_common import model_for, new_id, refuse_extras
from .openai_models import ChatRequest, CompletionRequest
from .respond import notes_header
from .streaming import Events, Opened, event_stream, failure_message, open_stream, warnings
from .text import cut_at_stop


def _stops(stop) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > 4 or not all(stops):
        raise ClientError(400, "stop takes up to 4 non-empty sequences.", param="stop")
    return stops


def _decoding(body, max_new_tokens: int | None) -> dict[str, Any]:
    """OpenAI sampling fields as task parameters (temperature 0: greedy)."""
    params: dict[str, Any] = {}
    if max_new_tokens is not None:
        params["max_new_tokens"] = max_new_tokens
    if body.temperature is not None:
        if body.temperature < 0.01:  # OpenAI's 0 (and what rounds to it: 1e-300) is greedy decoding
            params["do_sample"] = False
        else:
            params["temperature"] = body.temperature
    if body.top_p is not None and body.top_p < 1:
        params["top_p"] = body.top_p
    if body.seed is not None:
        params["seed"] = body.seed
    return params


def _finish(tokens: int, limit: int | None, stopped: bool) -> str:
    return "length" if not stopped and limit is not None and tokens >= limit else "stop"


def generate(runner, prompts: list, n: int, params: dict, stops: list[str], limit: int | None,
             reply: Callable[[Any, Any], tuple[str, str]]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Each prompt ``n`` times (seeds counted up from the asked one): each choice's text cut at the stop
    sequences with its finish reason, and the usage. ``reply(result, prompt)``: the text to answer and the
    part of it the model made."""
    choices, used, asked = [], 0, 0
    for prompt in prompts:
        asked += runner.count_tokens(prompt, special=True)
        for i in range(n):
            each = dict(params, seed=params["seed"] + i) if "seed" in params and n > 1 else params
            text, made = reply(runner(prompt, **each), prompt)
            tokens = runner.count_tokens(made)
            text, stopped = cut_at_stop(text, stops)
            used += tokens
            choices.append((text, _finish(tokens, limit, stopped)))
    return choices, {"prompt_tokens": asked, "completion_tokens": used, "total_tokens": asked + used}


class Chunks(Events):
    """OpenAI's stream chunks: one per piece, then the finish reason (with the notices), then ``[DONE]``."""

    def __init__(self, kind: str, name: str, limit: int | None):
        self.kind, self.name, self.limit = kind, name, limit
        self.ident, self.created = new_id("chatcmpl" if kind == "chat.completion.chunk" else "cmpl"), int(time.time())

    def chunk(self, choices: list, **extra) -> dict:
        return {"id": self.ident, "object": self.kind, "created": self.created, "model": self.name,
                "choices": choices, **extra}

    def choice(self, text: str, finish: str | None) -> dict:
        raise NotImplementedError

    def piece(self, text: str):
        return [self.chunk([self.choice(text, None)])]

    def failed(self, error: Exception):
        message, known = failure_message(error)
        return [{"error": {"message": message, "type": "invalid_request_error" if known else "server_error"}},
                "[DONE]"]

    async def last(self, opened: Opened) -> AsyncIterator[Any]:
        tokens = await anyio.to_thread.run_sync(opened.runner.count_tokens, opened.text)
        yield self.chunk([self.choice("", _finish(tokens, self.limit, opened.stopped))], **warnings(opened.notes))
        async for event in self.usage(opened, tokens):
            yield event
        yield "[DONE]"

    async def usage(self, opened: Opened, tokens: int) -> AsyncIterator[Any]:
        return
        yield


class ChatChunks(Chunks):
    def __init__(self, name: str, limit: int | None, turns: list, include_usage: bool):
        super().__init__("chat.completion.chunk", name, limit)
        self.turns, self.include_usage = turns, include_usage

    def choice(self, text: str, finish: str | None) -> dict:
        return {"index": 0, "delta": {"content": text} if text or finish is None else {}, "finish_reason": finish,
                "logprobs": None}

    def first(self):
        return [self.chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None,
                             "logprobs": None}])]

    async def usage(self, opened: Opened, tokens: int) -> AsyncIterator[Any]:
        if self.include_usage:
            asked = await anyio.to_thread.run_sync(opened.runner.count_tokens, self.turns, True)
            yield self.chunk([], usage={"prompt_tokens": asked, "completion_tokens": tokens,
                                        "total_tokens": asked + tokens})


class CompletionChunks(Chunks):
    def __init__(self, name: str, limit: int | None):
        super().__init__("text_completion", name, limit)

    def choice(self, text: str, finish: str | None) -> dict:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}


# -- chat ------------------------------------------------------------------------------------------


def turns_of(messages) -> list[dict[str, str]]:
    turns = []
    for i, message in enumerate(messages):
        content = message.content
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.type != "text" or part.text is None:
                    raise ClientError(400, f"messages[{i}] has a {part.type!r} part; this server takes text only.",
                                      param=f"messages[{i}].content")
                parts.append(part.text)
            content = "".join(parts)
        role = "system" if message.role == "developer" else message.role
        turns.append({"role": role, "content": content or ""})
    return turns


async def chat_completions(request: Request, body: ChatRequest, model_name: str | None = None) -> Response:
    state = request.app.state.modeldeck
    refuse_extras(body)
    name = model_name or body.model
    model = await anyio.to_thread.run_sync(model_for, state, name, "chat")
    turns = turns_of(body.messages)
    limit = body.max_completion_tokens or body.max_tokens
    params = _decoding(body, limit)
    stops, n = _stops(body.stop), body.n or 1
    get_runner = lambda: state.models.runner("chat", model)
    if body.stream:
        if n > 1:
            raise ClientError(400, "n > 1 cannot stream here.", param="n")
        usage = body.stream_options is not None and bool(body.stream_options.include_usage)
        return event_stream(await open_stream(get_runner, turns, params, stops), ChatChunks(name, limit, turns, usage))

    def reply(result, _turns) -> tuple[str, str]:
        return result["content"], result["content"]

    outcome = await in_thread(lambda: generate(get_runner(), [turns], n, params, stops, limit, reply))
    made, usage = outcome.result
    choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                "logprobs": None} for i, (text, finish) in enumerate(made)]
    return JSONResponse({"id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
                         "model": name, "choices": choices, "usage": usage}, headers=notes_header(outcome.notes))


# -- completions -----------------------------------------------------------------------------------


async def completions(request: Request, body: CompletionRequest) -> Response:
    from ..runner import check_before_loading

    state = request.app.state.modeldeck
    refuse_extras(body)
    model = await anyio.to_thread.run_sync(model_for, state, body.model, "text-generation")
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if not prompts:
        raise ClientError(400, "prompt is empty.", param="prompt")
    limit = body.max_tokens or 16  # OpenAI's default
    params = {**_decoding(body, limit), "return_full_text": bool(body.echo)}
    stops, n = _stops(body.stop), body.n or 1
    # every prompt x n is one call: the request's work, checked before any
    check_before_loading("text-generation", [prompt for prompt in prompts for _ in range(n)], params)
    get_runner = lambda: state.models.runner("text-generation", model)
    if body.stream:
        if n > 1 or len(prompts) > 1:
            raise ClientError(400, "Streaming takes one prompt and n = 1 here.", param="n" if n > 1 else "prompt")
        return event_stream(await open_stream(get_runner, prompts[0], params, stops), CompletionChunks(body.model, limit))

    def reply(result, prompt: str) -> tuple[str, str]:
        text = result[0]["generated_text"]
        return text, text[len(prompt):] if body.echo else text

    outcome = await in_thread(lambda: generate(get_runner(), prompts, n, params, stops, limit, reply))
    made, usage = outcome.result
    choices = [{"text": text, "index": i, "logprobs": None, "finish_reason": finish}
               for i, (text, finish) in enumerate(made)]
    return JSONResponse({"id": new_id("cmpl"), "object": "text_completion", "created": int(time.time()),
                         "model": body.model, "choices": choices, "usage": usage}, headers=notes_header(outcome.notes))
