"""Predicting one model's memory from its tensors: in the dtype it loads in, plus a small fixed cost.

The Hugging Face course's rule of thumb is "weights file size x 1.2"; modeldeck counts every tensor in
the dtype it will be loaded in (fp32 on CPU, bf16/fp16 on GPU: a float16 checkpoint loaded on a CPU
doubles, which the file size cannot tell), plus the per-model overhead ``bench/memory.py`` measures.
"""

from __future__ import annotations

import re

from ..errors import InvalidInput
from .headers import DTYPE_BYTES, FLOATS, Weights
from .units import MiB

# The dtypes a user can ask for, and the safetensors dtype each loads into.
LOAD_DTYPES = {"fp32": "F32", "fp16": "F16", "bf16": "BF16", "int8": "I8"}

# The fixed cost of loading one model beyond its tensors: the model's Python
# code, buffers not stored in the checkpoint (position ids, masks) and
# allocator slack. bench/memory.py measures 10-16 MB (growth minus tensor bytes).
LOAD_OVERHEAD = 16 * MiB
# On a GPU the caching allocator rounds blocks up; a few percent on top.
GPU_SLACK = 1.03
# The Hugging Face course's rule of thumb: "look at the pytorch_model.bin file size, multiply by 1.2".
RULE_FACTOR = 1.2
# Names of weights int8 leaves in float: embeddings, norms (LayerNorm too), convolutions, biases. Every other
# weight matrix is stored in one byte per element (CTranslate2's int8, dynamic int8 of nn.Linear), whatever its
# size: a tiny model's matrices are quantized as a large one's are.
NOT_LINEAR = re.compile(r"embed|wte|wpe|shared|position|token_type|norm|ln_|conv|patch|\.bias$", re.IGNORECASE)


def load_dtype(device: str) -> str:
    """The dtype modeldeck loads in on ``device`` when no task says otherwise (see modeldeck.dtypes):
    MODELDECK_DTYPE when set, else fp32 on a CPU and bf16 (where supported) or fp16 on a GPU."""
    from ..dtypes import current

    return current(device)


def tensor_bytes(weights: Weights, dtype: str) -> int:
    """Bytes the tensors take once loaded in ``dtype`` (float tensors convert, the rest keep theirs)."""
    check_dtype(dtype)
    if weights.tensors is None:
        return weights.weights_bytes  # only sizes known: assume it loads as stored
    total = 0
    for t in weights.tensors:
        if t.dtype not in FLOATS:
            total += t.nbytes
        elif dtype == "int8":
            linear = t.name.endswith("weight") and not NOT_LINEAR.search(t.name)
            total += t.numel if linear else t.numel * 4
        else:
            total += t.numel * DTYPE_BYTES[LOAD_DTYPES[dtype]]
    return total


def predict_bytes(weights: Weights, dtype: str, device: str = "cpu") -> int:
    """Predicted memory of the loaded model: RAM on CPU, GPU memory on CUDA."""
    tensors = tensor_bytes(weights, dtype)
    if device.startswith("cuda"):
        return int(tensors * GPU_SLACK)
    return tensors + LOAD_OVERHEAD


def rule_bytes(weights: Weights) -> int:
    """The Hugging Face course's rule of thumb: weights file size x 1.2."""
    return int(weights.weights_bytes * RULE_FACTOR)


def check_dtype(dtype: str) -> None:
    """Refuse a dtype modeldeck does not load in."""
    if dtype not in LOAD_DTYPES:
        raise InvalidInput(f"Unknown dtype {dtype!r}.", f"Choose one of: {', '.join(LOAD_DTYPES)}.")
