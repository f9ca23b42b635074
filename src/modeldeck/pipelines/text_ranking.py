"""text-ranking (rerank): documents ordered by how well each answers a query, with a cross-encoder.

As sentence-transformers' CrossEncoder and the model cards do it: the model reads each (query,
document) pair whole (truncated longest-first to fit) and gives one logit, its relevance; the score is
that logit through a sigmoid (0 to 1, as Text Embeddings Inference and the Cohere and Jina APIs give
it), or the raw logit. Each pair is a part of its own, batched with the pairs of other calls.
"""

from __future__ import annotations

from ..errors import InvalidInput, WrongModelType
from ..spec import Input, Param, TaskSpec
from ..task import Parts, Task
from ._text import fit_text, pair_tokens


def one_score(model_id: str, scores) -> None:
    """Refuse a model that gives other than one score per (query, document) pair: a classifier, not a reranker."""
    if scores != 1:
        raise WrongModelType(
            f"{model_id} gives {scores} scores per text, not the one relevance score text-ranking reads: it is a "
            "classifier, not a reranker.",
            "Use a cross-encoder reranker, e.g. cross-encoder/ms-marco-MiniLM-L-6-v2 or BAAI/bge-reranker-base.",
        )


class TextRanking(Task):
    spec = TaskSpec(
        name="text-ranking",
        summary="Rank documents by how well each answers a query (a cross-encoder reranker, for search and RAG).",
        default_model="cross-encoder/ms-marco-MiniLM-L-6-v2",
        inputs=(
            Input("query", "text", help="the query"),
            Input("documents", "text", many=True, help="the documents to rank"),
        ),
        output="ranking",
        output_help='the documents best first, as {"index", "score", "text"} (index: its place among those given)',
        params=(
            Param("top_n", int, None, "how many documents to return, best first [default: all]", min=1,
                  stage="postprocess"),
            Param("raw_scores", bool, False, "give the model's raw logits instead of relevance from 0 to 1",
                  stage="postprocess"),
            Param("truncate", bool, True, "cut a (query, document) pair longer than the model reads (off: refuse it)",
                  stage="preprocess"),
        ),
        aliases=("rerank",),
        examples=({"query": "How many people live in Berlin?",
                   "documents": ["Berlin has a population of 3,520,031 registered inhabitants.",
                                 "New York City is famous for the Metropolitan Museum of Art."]},),
    )
    max_batch_size = 32  # (query, document) pairs per pass, from any calls

    def load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ..backends.transformers import load_model, load_processor
        from ..generation import model_window

        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        self.model = load_model(AutoModelForSequenceClassification, self.model_path, self.device)
        one_score(self.model_id, self.model.config.num_labels)
        self.window = model_window(self.model, self.tokenizer, default=512)

    @classmethod
    def check_checkpoint(cls, model_id, folder, config) -> None:
        if config is not None:  # as transformers counts them: the labels named, else num_labels, else 2
            labels = config.get("id2label")
            one_score(model_id, len(labels) if isinstance(labels, dict) and labels else config.get("num_labels", 2))

    def preprocess(self, inputs, truncate=True, **_) -> Parts:
        """The (query, document) pair of each document, cut to fit: one part each."""
        from ..notices import notice

        query = fit_text(self.tokenizer, inputs["query"], self.window)
        parts = Parts()
        for n, document in enumerate(inputs["documents"]):
            tokens = pair_tokens(self.tokenizer, query, fit_text(self.tokenizer, document, self.window), self.window,
                                 "longest_first", "query")
            cut = tokens.pop("cut")
            if cut and not truncate:
                raise InvalidInput(
                    f"Document {n} with the query is longer than the {self.window} tokens {self.model_id} reads.",
                    "Shorten it, or let modeldeck cut it (truncate=true).",
                )
            if cut:
                notice(f"Document {n} with the query is longer than the {self.window} tokens {self.model_id} reads: "
                       "the rest was cut and played no part in its score.")
            parts.append({"tokens": tokens, "text": document})
        return parts

    def cost(self, pair) -> int:
        return len(pair["tokens"]["input_ids"])

    def forward(self, batch):
        from ..backends.transformers import pad_batch

        encoded = {n: v.to(self.device) for n, v in pad_batch(self.tokenizer, [p["tokens"] for p in batch]).items()}
        logits = self.model(**encoded).logits[:, 0].float().cpu().tolist()
        return [(pair["text"], logit) for pair, logit in zip(batch, logits)]

    def postprocess(self, outputs, top_n=None, raw_scores=False, **_) -> list[dict]:
        import math

        from ..limits import at_most

        # the sigmoid as tanh: no overflow for logits far below zero
        scored = [{"index": i, "score": logit if raw_scores else 0.5 * (1 + math.tanh(logit / 2)), "text": text}
                  for i, (text, logit) in enumerate(outputs)]
        scored.sort(key=lambda r: -r["score"])
        top_n = at_most(top_n, len(scored), "top_n", "documents")
        return scored[:top_n] if top_n else scored


TASK = TextRanking
