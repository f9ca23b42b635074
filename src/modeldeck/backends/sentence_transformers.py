"""Sentence-transformers models: load, tokenize per text, and embed many texts in length-sorted batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import require


def load_sentence_model(path: Path, device: str, dtype: Any = None):
    """A SentenceTransformer from a local folder: pickle and remote code only where the user allowed them;
    in ``dtype`` (default: the load's choice, see modeldeck.dtypes: bf16 on CPUs that compute it natively)."""
    from . import tune_allocator
    from ..dtypes import pick_dtype
    from .transformers import check_remote_code, check_safe

    tune_allocator()
    st = require("sentence_transformers", "sentence-transformers")
    check_safe(path)
    trust = check_remote_code(path)
    kwargs = {"model_kwargs": {"dtype": dtype or pick_dtype(device)}}
    return st.SentenceTransformer(str(path), device=device, trust_remote_code=trust, local_files_only=True, **kwargs)


def tokenize(model, texts: list[str]) -> list[Any]:
    """Each text's token ids as the model reads them (no padding), or the texts themselves for models
    without a plain tokenizer (they are tokenized when embedded)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return list(texts)
    encoded = tokenizer(texts, truncation="longest_first", max_length=model.max_seq_length)
    return [{name: encoded[name][i] for name in encoded} for i in range(len(texts))]


def token_count(piece: Any) -> int:
    return len(piece["input_ids"]) if isinstance(piece, dict) else max(1, len(piece) // 4)


def embed(model, pieces: list[Any], batch_size: int = 32, normalize: bool = False, max_tokens: int = 8192):
    """Embeddings for tokenized texts (from ``tokenize``), a float32 tensor in input order.

    Sorts by token count and cuts batches by a token budget, so short texts
    share little padding and long ones do not blow up memory.
    """
    import torch

    lengths = [token_count(p) for p in pieces]
    order = sorted(range(len(pieces)), key=lambda i: -lengths[i])
    out = None
    start = 0
    while start < len(order):
        size = max(1, min(batch_size, max_tokens // max(lengths[order[start]], 1)))
        batch = [pieces[i] for i in order[start : start + size]]
        if isinstance(batch[0], dict):
            from .transformers import pad_batch

            features = pad_batch(model.tokenizer, batch)
        else:
            features = model.preprocess(batch)
        features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        vectors = model(features)["sentence_embedding"].float()
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        if out is None:
            out = torch.empty((len(pieces), vectors.shape[1]), dtype=torch.float32)
        out[order[start : start + size]] = vectors.cpu()
        start += size
    return out
