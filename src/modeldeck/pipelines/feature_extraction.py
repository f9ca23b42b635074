"""feature-extraction: one embedding vector per text (sentence-transformers)."""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from ..task import Task

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceEmbedding(Task):
    """Shared by feature-extraction and sentence-similarity."""

    def load(self) -> None:
        from ..backends.sentence_transformers import load_sentence_model

        self.model = load_sentence_model(self.model_path, self.device)

    def embed(self, texts: list[str], normalize: bool = False, batch_size: int = 32):
        from ..backends.sentence_transformers import embed

        return embed(self.model, texts, batch_size=batch_size, normalize=normalize)


class FeatureExtraction(SentenceEmbedding):
    spec = TaskSpec(
        name="feature-extraction",
        summary="Embed texts as vectors (sentence embeddings).",
        default_model=DEFAULT_MODEL,
        inputs=(Input("texts", "text", many=True, help="the texts to embed"),),
        output="vectors",
        output_help="one vector per text",
        params=(
            Param("normalize", bool, False, "scale each vector to length 1"),
            Param("batch_size", int, 32, "texts per forward pass"),
        ),
        aliases=("embeddings", "sentence-embeddings"),
        backend="sentence-transformers",
        examples=({"texts": ["A man is eating food.", "A man is riding a horse."]},),
    )

    def forward(self, inputs, normalize=False, batch_size=32, **_):
        return self.embed(inputs["texts"], normalize=normalize, batch_size=batch_size)

    def postprocess(self, vectors, **_) -> list[list[float]]:
        return vectors.tolist()


TASK = FeatureExtraction
