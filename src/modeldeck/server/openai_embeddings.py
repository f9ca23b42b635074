"""OpenAI embeddings: ``POST /v1/embeddings`` on the feature-extraction task."""

from __future__ import annotations

import base64

from fastapi import Request
from fastapi.responses import Response

from .calls import in_thread
from .errors import ClientError
from .openai_common import model_for, refuse_extras
from .openai_models import EmbeddingRequest
from .respond import notes_header


async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
    import numpy as np
    import orjson

    state = request.app.state.modeldeck
    refuse_extras(body)
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise ClientError(400, "input is empty: give a text or a list of texts.", param="input")

    def run():  # one trip to a worker thread: which model, the call, and the token count
        runner = state.models.runner("feature-extraction", model_for(state, body.model, "feature-extraction"))
        vectors = runner({"texts": texts}, normalize=True)
        return np.asarray(vectors, dtype="<f4"), runner.count_tokens(texts)

    outcome = await in_thread(run)
    vectors, tokens = outcome.result
    size = vectors.shape[1]
    if body.dimensions is not None and body.dimensions != size:
        raise ClientError(400, f"{body.model} makes {size}-dimension vectors; dimensions={body.dimensions} is "
                          "not offered (cutting vectors short would change their meaning).", param="dimensions",
                          hint=f"Leave dimensions out, or set it to {size}.")
    base64_out = body.encoding_format == "base64"
    data = [{"object": "embedding", "index": i,
             "embedding": base64.b64encode(vector.tobytes()).decode() if base64_out else vector}
            for i, vector in enumerate(vectors)]
    # the float32 vectors written once, straight from the array (their shortest float32 text)
    content = orjson.dumps({"object": "list", "data": data, "model": body.model,
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                           option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, media_type="application/json", headers=notes_header(outcome.notes))
