"""Sentence-transformers models: load, and embed many texts in length-sorted batches."""

from __future__ import annotations

from pathlib import Path

from ..errors import require


def load_sentence_model(path: Path, device: str):
    """A SentenceTransformer from a local folder: pickle and remote code only where the user allowed them."""
    from .transformers import check_remote_code, check_safe

    st = require("sentence_transformers", "sentence-transformers")
    check_safe(path)
    trust = check_remote_code(path)
    return st.SentenceTransformer(str(path), device=device, trust_remote_code=trust, local_files_only=True)


def embed(model, texts: list[str], batch_size: int = 32, normalize: bool = False, max_tokens: int = 8192):
    """Embeddings for ``texts`` (a float32 tensor, input order).

    Tokenizes once, sorts by token count and cuts batches by a token budget,
    so short texts share little padding and long ones do not blow up memory.
    """
    import torch

    tokenizer = model.tokenizer
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    out = None
    start = 0
    while start < len(order):
        size = max(1, min(batch_size, max_tokens // max(lengths[order[start]], 1)))
        batch = order[start : start + size]
        features = model.preprocess([texts[i] for i in batch])
        features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        vectors = model(features)["sentence_embedding"].float()
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        if out is None:
            out = torch.empty((len(texts), vectors.shape[1]), dtype=torch.float32)
        out[batch] = vectors.cpu()
        start += size
    return out
