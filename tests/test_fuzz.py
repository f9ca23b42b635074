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
from modeldeck.errors import InvalidInput, InvalidModelId, ModelNotAvailable, ModeldeckError, TaskFailed

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


# What a refusal of a task's input calls it (a parameter's refusal names the parameter).
INPUT_WORDS = ("text", "question", "context", "image", "picture", "conversation", "message", "turn", "prompt",
               "mask", "input")


def runs_or_refuses(task: str, inputs, refused=(InvalidInput,), names=(), **params) -> None:
    """Runs, or is refused with a ``refused`` error that names what it refuses (a parameter passed, or the input)."""
    try:
        modeldeck.run(task, inputs, **params)
    except TaskFailed as e:  # a library error that slipped past the task's own checks
        pytest.fail(f"not caught by modeldeck's checks: {e}")
    except ModeldeckError as e:
        assert isinstance(e, refused), f"{type(e).__name__}: {e}"
        words = [*params, *(name.replace("_", " ") for name in params), *INPUT_WORDS, *names]
        assert any(word in str(e).lower() for word in words), f"the refusal names nothing it refuses: {e}"


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


# -- issue 20's surfaces: conversations, model ids, huge and tiny numbers, image generation -------------------------

numbers = st.one_of(
    st.integers(-(10**30), 10**30), st.floats(min_value=-1e-300, max_value=1e-300),
    st.sampled_from(["1e20", "1e-300", "-0", 2**63, 2**63 - 1, -(2**63) - 1]),
)


@FUZZ
@given(text=st.text(min_size=1, max_size=40), value=numbers,
       name=st.sampled_from(["temperature", "top_k", "top_p", "repetition_penalty", "seed", "max_new_tokens"]))
def test_text_generation_takes_any_number(text, value, name):
    params = {"max_new_tokens": 2, name: value} if name != "max_new_tokens" else {name: value}
    runs_or_refuses("text-generation", text, **params)
    if out_of_range("text-generation", name, value):  # the spec's own bounds: a value past them is never taken
        with pytest.raises(InvalidInput, match=name):
            modeldeck.run("text-generation", text, **params)


def out_of_range(task: str, name: str, value) -> bool:
    """Whether ``value`` is a number beyond ``name``'s bounds in ``task``'s spec (or beyond int64)."""
    from modeldeck.pipelines import get_task

    param = next(p for p in get_task(task).spec.params if p.name == name)
    number = float(value)
    return ((param.min is not None and number < param.min) or (param.max is not None and number > param.max)
            or abs(number) >= 2**63)


@FUZZ
@given(value=numbers, name=st.sampled_from(["max_answer_len", "top_k", "max_seq_len", "doc_stride", "max_question_len"]))
def test_question_answering_takes_any_number(value, name):
    runs_or_refuses("question-answering", {"question": "Who?", "context": "I am Bob."}, **{name: value})
    if out_of_range("question-answering", name, value):
        with pytest.raises(InvalidInput, match=name):
            modeldeck.run("question-answering", {"question": "Who?", "context": "I am Bob."}, **{name: value})


roles = st.sampled_from(["user", "assistant", "system", "robot", 5])
turns = st.lists(st.one_of(st.fixed_dictionaries({"role": roles, "content": st.one_of(texts, st.integers())}), texts),
                 max_size=30)


@FUZZ
@given(conversation=st.one_of(turns, texts))
def test_chat_takes_any_conversation(conversation):
    runs_or_refuses("chat", conversation, max_new_tokens=2, num_beams=1)


@FUZZ
@given(model=st.one_of(st.text(max_size=400), st.sampled_from(["../../etc", "/etc", "a" * 300, "org/" + "b" * 97,
                                                               "gpt2@", "x\x00y", "~/nowhere", "org/name@rev/../..",
                                                               "gpt2-", "a.", "org/-a", "0\u00b9"])))
def test_any_model_name_is_a_modeldeck_error_or_runs(model):
    runs_or_refuses("fill-mask", "Paris is the [MASK].", refused=(InvalidInput, InvalidModelId, ModelNotAvailable),
                    names=("revision", model.strip().rstrip("/").split("/")[-1][:20].lower()), model=model)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(steps=st.integers(1, 6), strength=st.one_of(st.floats(0, 1), st.sampled_from([1e-300, 0.01, 0.34, 1.0])),
       task=st.sampled_from(["image-to-image", "inpainting"]))
def test_image_edits_take_any_steps_and_strength(steps, strength, task):
    inputs = {"image": png((16, 16)), "prompt": "a dog"}
    if task == "inpainting":
        inputs["mask"] = png((16, 16))
    runs_or_refuses(task, inputs, steps=steps, strength=strength, width=16, height=16)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(width=st.sampled_from([8, 64, 4096]), height=st.sampled_from([8, 64, 4096]), n=st.integers(1, 16),
       steps=st.sampled_from([1, 2, 500]))
def test_text_to_image_sizes_counts_and_steps_are_within_budget_or_refused_at_once(width, height, n, steps):
    import time

    started = time.monotonic()
    if width * height * n * steps / 1e6 > 256:  # over the budget: refused before any model runs
        runs_or_refuses("text-to-image", "a cat", width=width, height=height, num_images=n, steps=steps)
        assert time.monotonic() - started < 5
    elif width * height * n * steps <= 64 * 64 * 16 * 2:  # small enough to run here
        runs_or_refuses("text-to-image", "a cat", width=width, height=height, num_images=n, steps=steps)
