"""Reranking over HTTP for the text-ranking task, in the two shapes clients send:

- ``POST /v1/rerank``, as Cohere's and Jina's APIs (and the clients built for them) send it:
  ``{"model", "query", "documents": [text or {"text"}], "top_n", "return_documents"}`` ->
  ``{"id", "model", "results": [{"index", "relevance_score", "document": {"text"}}], "usage", "meta"}``;
- ``POST /rerank``, as Text Embeddings Inference takes it: ``{"query", "texts", "raw_scores",
  "return_text", "truncate"}`` -> ``[{"index", "score", "text"}]``, best first.

Scores are relevance from 0 to 1 (the cross-encoder's logit through a sigmoid), as both APIs give them.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..pipelines import get_task
from .calls import in_thread
from .errors import COMMON, ClientError, error_responses
from .openai_common import refuse_extras
from .openai_models import Open
from .respond import notes_header

TASK = "text-ranking"
# The hosted services' own model names: each stands for the task's default model here.
HOSTED = ("rerank-", "jina-reranker-")


class Document(BaseModel):
    """A document as an object (Cohere's v1 and Jina's clients send these too): its text is ranked."""

    model_config = ConfigDict(extra="allow")
    text: str


class RerankRequest(Open):
    model: str | None = Field(None, examples=["cross-encoder/ms-marco-MiniLM-L-6-v2"],
                              description="the reranker (hosted names such as rerank-v3.5 mean the default)")
    query: str = Field(..., min_length=1)
    documents: list[str | Document] = Field(..., min_length=1)
    top_n: int | None = Field(None, ge=1, description="how many results, best first [default: all]")
    return_documents: bool | None = Field(True, description="give each result's document text back")


class TeiRerankRequest(Open):
    query: str = Field(..., min_length=1)
    texts: list[str] = Field(..., min_length=1)
    raw_scores: bool | None = False
    return_text: bool | None = False
    truncate: bool | None = False
    truncation_direction: Literal["Left", "Right", "left", "right"] | None = "Right"


def _model(state, name: str | None) -> str | None:
    """The model to load for a name: for none, or a hosted service's name, the reranker the server was started
    with (``--preload text-ranking=MODEL``), else the task's default (None)."""
    if name is None or name.startswith(HOSTED):
        from ..pipelines import canonical_name

        for entry in state.config.preload:
            task, _, model = entry.rpartition("=")
            if task and canonical_name(task) == TASK:
                return model
        return None
    state.models.require(name, TASK)
    return name


def _rank(state, model: str | None, query: str, texts: list[str], **params: Any):
    runner = state.models.runner(TASK, model)
    return runner({"query": query, "documents": texts}, **params), runner


async def rerank(request: Request, body: RerankRequest) -> JSONResponse:
    """Cohere / Jina: the documents best first, scored 0 to 1."""
    state = request.app.state.modeldeck
    refuse_extras(body)
    model = await anyio.to_thread.run_sync(_model, state, body.model)
    texts = [d if isinstance(d, str) else d.text for d in body.documents]

    def run():
        ranked, runner = _rank(state, model, body.query, texts, top_n=body.top_n)
        tokens = sum(runner.count_tokens(body.query, True) + runner.count_tokens(t) for t in texts)
        return ranked, tokens

    outcome = await in_thread(run)
    ranked, tokens = outcome.result
    results = [{"index": r["index"], "relevance_score": r["score"],
                **({"document": {"text": r["text"]}} if body.return_documents is not False else {})} for r in ranked]
    return JSONResponse({
        "id": str(uuid.uuid4()), "model": model or body.model or get_task(TASK).spec.default_model, "results": results,
        "usage": {"total_tokens": tokens}, "meta": {"api_version": {"version": "1"}, "billed_units": {"search_units": 1}},
    }, headers=notes_header(outcome.notes))


async def tei_rerank(request: Request, body: TeiRerankRequest) -> JSONResponse:
    """Text Embeddings Inference: [{"index", "score", "text"?}], best first."""
    state = request.app.state.modeldeck
    refuse_extras(body)
    if (body.truncation_direction or "Right").lower() == "left":
        raise ClientError(400, "truncation_direction Left is not supported: texts are cut at their end.",
                          param="truncation_direction", hint="Leave it out, or send Right.")
    model = await anyio.to_thread.run_sync(_model, state, None)
    outcome = await in_thread(lambda: _rank(state, model, body.query, body.texts, raw_scores=bool(body.raw_scores),
                                            truncate=bool(body.truncate))[0])
    rows = [{"index": r["index"], "score": r["score"], **({"text": r["text"]} if body.return_text else {})}
            for r in outcome.result]
    return JSONResponse(rows, headers=notes_header(outcome.notes))


def add_routes(app: FastAPI, config) -> None:
    if not config.serves(TASK):
        return
    app.add_api_route("/v1/rerank", rerank, methods=["POST"], tags=["Reranking"],
                      responses=error_responses("openai", *COMMON, 507),
                      summary="Rerank documents for a query (the Cohere and Jina APIs' shape)")
    app.add_api_route("/rerank", tei_rerank, methods=["POST"], tags=["Reranking"],
                      responses=error_responses("hf", *COMMON, 507),
                      summary="Rerank texts for a query (Text Embeddings Inference's shape)")
