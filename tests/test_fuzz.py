"""Property-based fuzzing of the Python API for the text and image tasks: whatever comes in, the only
exceptions out are modeldeck errors (bounded examples, fixture-hub models)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import modeldeck
from modeldeck.errors import ModeldeckError, TaskFailed

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

texts = st.one_of(
    st.text(max_size=200),  # any code points, lone surrogates included
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=400),
    st.sampled_from(["", "   ", "[MASK]", "a [MASK] b [MASK]", "\x00", "\ufffd" * 50]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**15), 10**15), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.lists(st.integers(), max_size=3),
)


def arrays():
    shapes = st.lists(st.integers(0, 40), min_size=1, max_size=4).map(tuple)
    dtypes = st.sampled_from([np.uint8, np.float32, np.float64, np.int64, bool, object])
    return st.builds(lambda shape, dtype: np.zeros(shape, dtype=dtype) if dtype is object else
                     np.random.default_rng(0).random(shape).astype(dtype) * 255, shapes, dtypes)


def png(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


images = st.one_of(
    arrays(),
    st.binary(max_size=300),
    st.tuples(st.integers(1, 64), st.integers(1, 64)).map(png),
    st.binary(min_size=40, max_size=120).map(lambda tail: png((8, 8))[:30] + tail),  # a damaged PNG
    texts,
)


def runs_or_refuses(task: str, inputs, **params) -> None:
    try:
        modeldeck.run(task, inputs, **params)
    except TaskFailed as e:  # a library error that slipped past the task's own checks
        pytest.fail(f"not caught by modeldeck's checks: {e}")
    except ModeldeckError as e:
        assert str(e).strip()


TEXT_TASKS = {
    "text-classification": {},
    "fill-mask": {},
    "feature-extraction": {},
    "text-generation": {"max_new_tokens": 3},
    "summarization": {"max_length": 8},
}


@pytest.mark.parametrize("task", TEXT_TASKS)
@FUZZ
@given(text=texts, extra=st.dictionaries(st.sampled_from(["top_k", "normalize", "temperature", "seed"]), scalars,
                                         max_size=2))
def test_text_tasks_take_any_text(task, text, extra):
    params = {**TEXT_TASKS[task], **{k: v for k, v in extra.items() if k in _names(task)}}
    runs_or_refuses(task, text, **params)


@FUZZ
@given(question=texts, context=texts, top_k=scalars)
def test_question_answering_takes_any_text(question, context, top_k):
    runs_or_refuses("question-answering", {"question": question, "context": context}, top_k=top_k)


@pytest.mark.parametrize("task", ["object-detection", "depth-estimation", "zero-shot-image-classification"])
@FUZZ
@given(image=images, threshold=scalars)
def test_image_tasks_take_any_picture(task, image, threshold):
    params = {"candidate_labels": ["cat", "dog"]} if task == "zero-shot-image-classification" else {}
    if task == "object-detection":
        params["threshold"] = threshold
    runs_or_refuses(task, image, **params)


def _names(task: str) -> set[str]:
    from modeldeck.pipelines import get_task

    return {p.name for p in get_task(task).spec.params}
