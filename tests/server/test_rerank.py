"""Reranking over HTTP: /v1/rerank as Cohere's and Jina's clients send it, /rerank as Text Embeddings
Inference's, and the Hugging Face task route, against a real ``modeldeck serve`` (fixture hub)."""

from __future__ import annotations

import httpx
import pytest

import modeldeck

RERANK = "cross-encoder/ms-marco-MiniLM-L-6-v2"
QUERY = "How many people live in Berlin?"
DOCUMENTS = [
    "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
    "Berlin is well known for its museums.",
    "New York City is famous for the Metropolitan Museum of Art.",
]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def expected():
    """What the Python API ranks: the same model, the same scores."""
    return modeldeck.run("text-ranking", {"query": QUERY, "documents": DOCUMENTS})


def test_cohere_and_jina_shape(http, expected):
    answer = http.post("/v1/rerank", json={"model": RERANK, "query": QUERY, "documents": DOCUMENTS, "top_n": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == RERANK and body["id"] and body["usage"]["total_tokens"] > 0
    assert [r["index"] for r in body["results"]] == [r["index"] for r in expected[:2]]
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx([r["score"] for r in expected[:2]], abs=1e-6)
    assert [r["document"] for r in body["results"]] == [{"text": r["text"]} for r in expected[:2]]
    assert all(0 <= r["relevance_score"] <= 1 for r in body["results"])


def test_documents_as_objects_without_returning_them_and_a_hosted_name(http, expected):
    answer = http.post("/v1/rerank", json={"model": "rerank-v3.5", "query": QUERY,
                                           "documents": [{"text": d} for d in DOCUMENTS], "return_documents": False})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["index"] for r in results] == [r["index"] for r in expected]
    assert all(set(r) == {"index", "relevance_score"} for r in results)


def test_text_embeddings_inference_shape(http, expected):
    answer = http.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS, "return_text": True})
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert rows == [{"index": r["index"], "score": pytest.approx(r["score"], abs=1e-6), "text": r["text"]}
                    for r in expected]
    raw = http.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS, "raw_scores": True}).json()
    assert [set(r) for r in raw] == [{"index", "score"}] * 3 and any(r["score"] < 0 or r["score"] > 1 for r in raw)


def test_a_text_too_long_is_refused_unless_truncate(http):
    long = " ".join(DOCUMENTS * 60)
    refused = http.post("/rerank", json={"query": QUERY, "texts": [long]})
    assert refused.status_code == 400 and "longer than the 512 tokens" in refused.json()["error"]
    cut = http.post("/rerank", json={"query": QUERY, "texts": [long], "truncate": True})
    assert cut.status_code == 200 and "cut" in cut.headers["X-Modeldeck-Notices"]


@pytest.mark.parametrize("path, body, status, words", [
    ("/v1/rerank", {"model": RERANK, "query": QUERY, "documents": []}, 422, "documents"),
    ("/v1/rerank", {"model": RERANK, "query": "", "documents": DOCUMENTS}, 422, "query"),
    ("/v1/rerank", {"model": RERANK, "query": QUERY, "documents": ["  "]}, 400, "empty"),
    ("/v1/rerank", {"model": RERANK, "query": QUERY, "documents": DOCUMENTS, "rank_fields": ["title"]}, 400,
     "rank_fields is not supported"),
    ("/v1/rerank", {"model": "gpt2", "query": QUERY, "documents": DOCUMENTS}, 400, "does not serve text-ranking"),
    ("/v1/rerank", {"model": "nobody/nothing", "query": QUERY, "documents": DOCUMENTS}, 404, "modeldeck pull"),
    ("/rerank", {"query": QUERY, "texts": DOCUMENTS, "truncation_direction": "Left"}, 400, "Left is not supported"),
])
def test_bad_requests_are_4xx_naming_the_problem(http, path, body, status, words):
    answer = http.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_the_hugging_face_task_route_ranks_too(http, expected):
    answer = http.post(f"/models/{RERANK}/pipeline/text-ranking",
                       json={"inputs": {"query": QUERY, "documents": DOCUMENTS}, "parameters": {"top_n": 1}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{"index": expected[0]["index"], "score": pytest.approx(expected[0]["score"]),
                              "text": expected[0]["text"]}]
