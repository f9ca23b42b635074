"""Hugging Face Inference task routes: ``POST /models/{model}`` (task picked from the model and the
payload) and ``POST /models/{model}/pipeline/{task}``, one per task, generated from the specs."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Path, Request
from starlette.responses import Response, StreamingResponse

from ..errors import UnknownParameter
from ..pipelines import get_task, registry
from ..schema import input_schema, output_schema, params_schema
from .calls import in_thread
from .errors import COMMON, ClientError, error_responses
from .hf_payload import Call, NoFit, parse_body, pick, to_call
from .media import decode_inputs
from .respond import hf_content, hf_result
from .streaming import Events, Opened, event_stream, failure_message, open_stream, warnings
from .text import cut_at_stop

STREAMING = ("text-generation", "summarization", "translation", "image-to-text", "chat")
BINARY_IN = {"image": "image/*", "audio": "audio/*"}


async def handle(request: Request, model: str, task: str | None = None) -> Response:
    """One Hugging Face Inference call on ``model``."""
    state = request.app.state.modeldeck
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    payload = parse_body(body, content_type)
    tasks = await anyio.to_thread.run_sync(state.models.tasks_for, model)
    if task is not None:
        if task not in tasks:
            state.models.require(model, task)
        try:
            call = to_call(get_task(task).spec, payload, content_type)
        except NoFit as why:
            raise ClientError(400, f"The request is not a {task} call: {why}.", param="inputs",
                              hint=_payload_hint(get_task(task).spec)) from None
    else:
        if not tasks:
            raise ClientError(400, f"Model {model} serves none of the tasks this server runs.", param="model",
                              hint="GET /v1/models lists the models and tasks served.")
        call = pick([get_task(t).spec for t in tasks], payload, content_type, model)
    if call.task == "text-generation":
        call.params.setdefault("return_full_text", False)  # as the hosted API: the continuation only
    if call.stream:
        if call.task not in STREAMING:
            raise ClientError(400, f"{call.task} does not stream.", param="stream")
        return await _stream(request, model, call)
    outcome = await in_thread(lambda: _run(state, model, call))
    result = outcome.result
    if call.stop and call.task == "text-generation":
        result = [stopped_at(r, call.stop) for r in result]
    return hf_result(get_task(call.task).spec, result, request.headers.get("accept", ""), outcome.notes)


def stopped_at(result: dict, stop: list[str]) -> dict:
    """A text-generation result cut at its first stop sequence (its details saying so, as TGI's)."""
    text, found = cut_at_stop(result["generated_text"], stop)
    out = {**result, "generated_text": text}
    if found and "details" in out:
        out["details"] = {**out["details"], "finish_reason": "stop_sequence"}
    return out


def _run(state, model: str, call: Call) -> Any:
    """Decode the media, load the runner, call it (in a worker thread)."""
    from ..runner import check_before_loading

    spec = get_task(call.task).spec
    decode_inputs(spec, call.inputs, call.params, state.config.allow_urls, state.config.max_body_bytes)
    try:
        check_before_loading(call.task, [call.inputs], call.params)  # a bad value never waits for a model to load
        runner = state.models.runner(call.task, model)
        return runner(call.inputs, **call.params)
    except UnknownParameter as e:
        raise _unused_kwargs(call, e) from e


def _unused_kwargs(call: Call, error: UnknownParameter) -> Exception:
    """For text generation, TGI's wording, which InferenceClient understands: it retries without them."""
    if call.task != "text-generation":
        return error
    spec = get_task(call.task).spec
    unused = [n for n in call.params if n not in {p.name for p in spec.params}]
    return ClientError(400, f"The following `model_kwargs` are not used by the model: {unused}",
                       param=unused[0] if unused else None, hint=error.hint, code="unknown_parameter")


async def _stream(request: Request, model: str, call: Call) -> StreamingResponse:
    """Text generation as server-sent events in TGI's shape (one token event per piece)."""
    state = request.app.state.modeldeck
    spec = get_task(call.task).spec

    def get_runner():
        from ..runner import check_before_loading

        decode_inputs(spec, call.inputs, call.params, state.config.allow_urls, state.config.max_body_bytes)
        check_before_loading(call.task, [call.inputs], call.params)
        return state.models.runner(call.task, model)

    return event_stream(await open_stream(get_runner, call.inputs, call.params, call.stop), Tokens(call))


class Tokens(Events):
    """TGI's stream: one token event per piece, the last held back to carry the whole text (and details)."""

    def __init__(self, call: Call):
        self.call, self.index, self.held = call, 0, None

    def piece(self, text: str):
        events = [] if self.held is None else [token(self.index, self.held, None)]
        self.index, self.held = self.index + 1, text
        return events

    def failed(self, error: Exception):
        return [{"error": failure_message(error)[0], "error_type": "generation"}]

    async def last(self, opened: Opened) -> AsyncIterator[dict]:
        details = None
        if self.call.params.get("details"):  # TGI's stream details, in the last event
            whole = (opened.stream.result or [{}])[0].get("details") or {}
            details = {"finish_reason": "stop_sequence" if opened.stopped else whole.get("finish_reason", "length"),
                       "generated_tokens": whole.get("generated_tokens", self.index), "seed": whole.get("seed"),
                       "input_length": await anyio.to_thread.run_sync(
                           opened.runner.count_tokens, self.call.inputs["text"], True)}
        yield token(self.index, self.held or "", opened.text, opened.notes, details)


def token(index: int, text: str, generated: str | None, notes: list[str] | None = None,
          details: dict | None = None) -> dict:
    """One TGI stream event: a piece of text as a token (its last token's id; the log-probability of its tokens
    together, where known)."""
    ids, logprobs = getattr(text, "ids", ()), getattr(text, "logprobs", ())
    logprob = sum(logprobs) if logprobs and None not in logprobs else None
    event = {"index": index, "token": {"id": ids[-1] if ids else 0, "text": str(text), "logprob": logprob,
                                       "special": False},
             "generated_text": generated, "details": details}
    return {**event, **warnings(notes or [])}  # what was cut or shortened: a stream has no headers left for it


def _payload_hint(spec) -> str:
    names = ", ".join(i.name for i in spec.inputs)
    media = spec.inputs[0].kind in BINARY_IN
    raw = " or the file's raw bytes" if media and len([i for i in spec.inputs if not i.optional]) == 1 else ""
    return f'Send {{"inputs": ..., "parameters": {{...}}}} with inputs {names}{raw}.'


# -- OpenAPI ---------------------------------------------------------------------------------------


def _plain(schema: dict) -> dict:
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)
    return schema


def request_schema(spec) -> dict:
    """The JSON body of one call: ``inputs`` (the first input's value, or an object of them) and ``parameters``."""
    ins = _plain(input_schema(spec))
    first = ins["properties"][spec.inputs[0].name]
    required_others = [n for n in ins["required"] if n != spec.inputs[0].name]
    inputs = ins if required_others else {"anyOf": [first, ins]}
    return {
        "type": "object",
        "title": f"{spec.name} request",
        "properties": {"inputs": inputs, "parameters": _plain(params_schema(spec))},
        "required": ["inputs"],
    }


def response_content(spec) -> dict:
    """What a successful call answers, by content type."""
    return hf_content(spec, _plain(output_schema(spec)))


def body_content(spec) -> dict:
    content = {"application/json": {"schema": request_schema(spec)}}
    required = [i for i in spec.inputs if not i.optional]
    if spec.inputs[0].kind in BINARY_IN and len(required) == 1:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    return content


def add_routes(app: FastAPI, config) -> None:
    """One route per served task, then the task-from-model route."""
    specs = [t.spec for name, t in registry().items() if config.serves(name)]
    for spec in specs:
        app.add_api_route(
            f"/models/{{model_id:path}}/pipeline/{spec.name}",
            _endpoint(spec.name, spec.default_model),
            methods=["POST"],
            summary=f"{spec.name} on a model",
            description=f"{spec.summary}\n\nOutput: {spec.output_help}.",
            tags=["Hugging Face tasks"],
            name=f"hf_{spec.name}",
            response_class=Response,
            responses={200: {"description": spec.output_help, "content": response_content(spec)},
                       **error_responses("hf", *COMMON, 501, 507)},
            openapi_extra={"requestBody": {"required": True, "content": body_content(spec)}},
        )

    async def any_task(request: Request, model_id: str = _model_param("sentence-transformers/all-MiniLM-L6-v2")
                       ) -> Response:
        return await handle(request, model_id)

    app.add_api_route(
        "/models/{model_id:path}",
        any_task,
        methods=["POST"],
        summary="Any task on a model (the task is picked from the model and the payload)",
        description="What InferenceClient(model=URL) posts to. Bodies and answers are those of the "
                    "/models/{model_id}/pipeline/{task} routes.",
        tags=["Hugging Face tasks"],
        response_class=Response,
        responses={200: {"description": "the task's answer", "content": {
            "application/json": {"schema": {"anyOf": [response_content(s).get("application/json", {}).get(
                "schema", {}) for s in specs] or [{}]}}}},
            **error_responses("hf", *COMMON, 501, 507)},
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"anyOf": [request_schema(s) for s in specs] or [{}]}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )


def _model_param(example: str):
    return Path(..., description="a hub id, e.g. org/name", examples=[example],
                pattern=r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*){0,2}(@[\w./-]+)?$")


def _endpoint(task: str, example: str):
    async def endpoint(request: Request, model_id: str = _model_param(example)) -> Response:
        return await handle(request, model_id, task)

    return endpoint
