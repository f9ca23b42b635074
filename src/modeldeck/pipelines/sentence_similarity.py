"""sentence-similarity: cosine similarity of a source sentence to each candidate."""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from .feature_extraction import DEFAULT_MODEL, SentenceEmbedding


class SentenceSimilarity(SentenceEmbedding):
    spec = TaskSpec(
        name="sentence-similarity",
        summary="Score how close each sentence is in meaning to a source sentence.",
        default_model=DEFAULT_MODEL,
        inputs=(
            Input("source_sentence", "text", help="the sentence to compare against"),
            Input("sentences", "text", many=True, help="the sentences to score"),
        ),
        output="scores",
        output_help="one cosine score per sentence",
        params=(Param("batch_size", int, 32, "texts per forward pass", min=1, limit="batch"),),
        backend="sentence-transformers",
        examples=(
            {
                "source_sentence": "A man is eating food.",
                "sentences": ["A man is eating a piece of bread.", "The girl is carrying a baby.", "A man is riding a horse."],
            },
        ),
    )

    def preprocess(self, inputs, **_):
        return self.tokenize([inputs["source_sentence"], *inputs["sentences"]])

    def forward(self, batch, batch_size=32):
        return [vectors[1:] @ vectors[0] for vectors in self.embed_batch(batch, True, batch_size)]

    def postprocess(self, scores, **_) -> list[float]:
        return [float(s) for s in scores]


TASK = SentenceSimilarity
