"""feature-extraction: one embedding vector per text (sentence-transformers)."""

from __future__ import annotations

from ..spec import Input, Param, TaskSpec
from ..task import Task, count_with

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class SentenceEmbedding(Task):
    """Shared by feature-extraction and sentence-similarity: texts are tokenized by each caller, and
    the texts of every request in a batch are embedded together, sorted by length."""

    max_batch_size = 64  # requests per pass
    max_batch_tokens = 16384  # requests x the longest request's tokens

    def load(self) -> None:
        from ..backends.onnx import load_sentence_encoder
        from ..backends.sentence_transformers import load_sentence_model

        model = load_sentence_model(self.model_path, self.device)
        modalities = getattr(model, "supports", lambda kind: True)
        if not modalities("text"):  # an image or audio embedder (heads.check_folder judges plain checkpoints sooner)
            from ..heads import folder_config, wrong_type

            kinds = ", ".join(m for m in model.modalities if isinstance(m, str))
            raise wrong_type(self.spec.name, self.model_id, self.spec.default_model, folder_config(self.model_path),
                             f"and this model embeds {kinds or 'no kind of input'}, not text")
        # runtime="onnx" (or a stored graph under runtime="auto"): the transformer runs in ONNX Runtime.
        self.model = load_sentence_encoder(self, model)

    def tokenize(self, texts: list[str]) -> list:
        """Each text's tokens; texts longer than the model reads are cut, with a notice."""
        from ..backends.sentence_transformers import token_count, tokenize
        from ..notices import notice

        pieces = tokenize(self.model, texts)
        window = getattr(self.model, "max_seq_length", None)
        if window and any(token_count(p) >= window for p in pieces):
            cut = sum(1 for t in texts if len(self.model.tokenizer(t)["input_ids"]) > window)
            if cut:
                notice(
                    f"{cut} of {len(texts)} texts are longer than the {window} tokens {self.model_id} reads: "
                    f"their embeddings cover the first {window} tokens only. Split long texts to embed all of them."
                )
        return pieces

    def count_tokens(self, value, special=False) -> int:
        return count_with(getattr(self.model, "tokenizer", None), value, special)

    def cost(self, item) -> int:
        from ..backends.sentence_transformers import token_count

        return sum(token_count(piece) for piece in item)

    def embed_batch(self, batch: list[list], normalize: bool, batch_size: int) -> list:
        """One tensor of vectors per item, all items' texts embedded together."""
        from ..backends.sentence_transformers import embed

        vectors = embed(self.model, [piece for item in batch for piece in item], batch_size=batch_size, normalize=normalize)
        out, start = [], 0
        for item in batch:
            out.append(vectors[start : start + len(item)])
            start += len(item)
        return out


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
            Param("batch_size", int, 32, "texts per forward pass", min=1, limit="batch"),
        ),
        aliases=("embeddings", "sentence-embeddings"),
        backend="sentence-transformers",
        examples=({"texts": ["A man is eating food.", "A man is riding a horse."]},),
    )

    def preprocess(self, inputs, **_):
        return self.tokenize(inputs["texts"])

    def forward(self, batch, normalize=False, batch_size=32):
        return self.embed_batch(batch, normalize, batch_size)

    def postprocess(self, vectors, **_) -> list[list[float]]:
        return vectors.tolist()


TASK = FeatureExtraction
