"""How much memory a model needs, known before its weights are loaded or even downloaded.

The Hugging Face course's rule of thumb is "weights file size x 1.2". modeldeck reads the
safetensors headers instead (``headers``: a few kilobytes at the start of each file, from the
cache, a package, or the hub with an HTTP Range request), so it knows every tensor's dtype and
element count. The prediction (``predict``) is then the tensors in the dtype modeldeck will load
them in, plus a small fixed cost per loaded model; a folder of several models (a diffusers
pipeline, min-dalle) is predicted part by part (``folders``). ``budget`` is the memory the pool
fills, ``verdict`` what ``modeldeck estimate`` says, ``units`` sizes as people write them.
``bench/memory.py`` measures the prediction against resident memory.

Everything here is cheap: no torch import unless a GPU question is asked.
"""

# The names callers use as ``memory.X``, from the module each lives in.
from .budget import (  # noqa: F401
    DEFAULT_SHARE, device_kind, device_memory, free_memory, gpu_memory, memory_budget, release,
)
from .folders import (  # noqa: F401
    PIPELINE_PARTS, is_pipeline, predict_pipeline_bytes, predicted_size, working_bytes,
)
from .headers import (  # noqa: F401
    DTYPE_BYTES, FLOATS, Tensor, Weights, local_weights, parse_header, read_header, read_tensors, remote_weights,
    weight_files,
)
from .predict import (  # noqa: F401
    GPU_SLACK, LOAD_DTYPES, LOAD_OVERHEAD, NOT_LINEAR, RULE_FACTOR, check_dtype, load_dtype, predict_bytes, rule_bytes,
    tensor_bytes,
)
from .units import GiB, KiB, MiB, format_bytes, format_count, parse_bytes  # noqa: F401
from .verdict import RUNTIME_OVERHEAD, Estimate, estimate, judge, model_weights, weights_at  # noqa: F401
