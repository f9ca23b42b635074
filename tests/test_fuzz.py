"""Property-based fuzzing of the Python API for the text and image tasks: whatever comes in, the only
exceptions out are modeldeck errors (bounded examples, fixture-hub models)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import modeldeck
from modeldeck.errors import InvalidInput, InvalidModelId, ModelNotAvailable, ModeldeckError, TaskFailed, WrongModelType

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


def runs_or_refuses(task: str, inputs, refused=(InvalidInput,), **params) -> None:
    """Runs, or is refused with a ``refused`` error about what it refuses: its ``param`` is a parameter passed or
    one of the task's inputs (a model error's class says it is about the model)."""
    try:
        modeldeck.run(task, inputs, **params)
    except TaskFailed as e:  # a library error that slipped past the task's own checks
        pytest.fail(f"not caught by modeldeck's checks: {e}")
    except ModeldeckError as e:
        assert isinstance(e, refused), f"{type(e).__name__}: {e}"
        if isinstance(e, (InvalidModelId, ModelNotAvailable, WrongModelType)):
            return
        about = {*params, *(i.name for i in spec_of(task).inputs)}
        assert e.param in about, f"the refusal is about {e.param!r}, not anything passed ({sorted(about)}): {e}"


WORDS_FOR_BOOLS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def holds(param, value) -> bool:
    """Whether ``param``'s type can hold ``value`` at all, its bounds aside (None: the default): a true/false
    as a bool or a word for one; a number from a number or its digits, never from a bool, a list or NaN or
    infinity; a whole number never from 2.5."""
    if value is None:
        return True
    if param.many:  # a list, or comma-separated text
        return isinstance(value, (list, tuple, str))
    if param.type is bool:
        return isinstance(value, bool) or (isinstance(value, (int, str)) and str(value).strip().lower() in WORDS_FOR_BOOLS)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    if isinstance(value, int):
        return True
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return False
    return math.isfinite(number) and (param.type is float or number.is_integer())


def refuses_what_types_cannot_hold(task: str, inputs, **params) -> bool:
    """When a value passed is one its parameter's type cannot hold (see ``holds``), the call is refused with an
    InvalidInput about that parameter (or one passed before it, refused first): True. False when every value
    fits its type."""
    spec = spec_of(task)
    names = list(params)
    misfit = next((i for i, name in enumerate(names) if not holds(spec.param(name), params[name])), None)
    if misfit is None:
        return False
    shown = f"{names[misfit]}={params[names[misfit]]!r}"
    try:
        modeldeck.run(task, inputs, **params)
    except InvalidInput as refusal:
        assert refusal.param in names[: misfit + 1], f"{shown} refused about {refusal.param!r}: {refusal}"
        return True
    pytest.fail(f"{shown} was taken, but {names[misfit]} cannot hold it")


def spec_of(task: str):
    from modeldeck.pipelines import get_task

    return get_task(task).spec


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
    if not refuses_what_types_cannot_hold(task, text, **params):
        runs_or_refuses(task, text, **params)


@FUZZ
@given(question=texts, context=texts, top_k=scalars)
def test_question_answering_takes_any_text(question, context, top_k):
    if not refuses_what_types_cannot_hold("question-answering", {"question": question, "context": context}, top_k=top_k):
        runs_or_refuses("question-answering", {"question": question, "context": context}, top_k=top_k)


@pytest.mark.parametrize("task", ["object-detection", "depth-estimation", "zero-shot-image-classification"])
@FUZZ
@given(image=images, threshold=scalars)
def test_image_tasks_take_any_picture(task, image, threshold):
    params = {"candidate_labels": ["cat", "dog"]} if task == "zero-shot-image-classification" else {}
    if task == "object-detection":
        params["threshold"] = threshold
    if not refuses_what_types_cannot_hold(task, image, **params):
        runs_or_refuses(task, image, **params)


def _names(task: str) -> set[str]:
    return {p.name for p in spec_of(task).params}


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
    if refuses_what_types_cannot_hold("text-generation", text, **params):
        return
    runs_or_refuses("text-generation", text, **params)
    if out_of_range("text-generation", name, value):  # the spec's own bounds: a value past them is never taken
        with pytest.raises(InvalidInput) as refusal:
            modeldeck.run("text-generation", text, **params)
        assert refusal.value.param == name, refusal.value


def out_of_range(task: str, name: str, value) -> bool:
    """Whether ``value`` is a number beyond ``name``'s bounds in ``task``'s spec (or beyond int64)."""
    param = spec_of(task).param(name)
    number = value if isinstance(value, int) else float(value)  # exact: float(2**63 - 1) rounds up to 2**63
    return ((param.min is not None and number < param.min) or (param.max is not None and number > param.max)
            or not -(2**63) <= number < 2**63)


@FUZZ
@given(value=numbers, name=st.sampled_from(["max_answer_len", "top_k", "max_seq_len", "doc_stride", "max_question_len"]))
def test_question_answering_takes_any_number(value, name):
    qa = {"question": "Who?", "context": "I am Bob."}
    if refuses_what_types_cannot_hold("question-answering", qa, **{name: value}):
        return
    runs_or_refuses("question-answering", qa, **{name: value})
    if out_of_range("question-answering", name, value):
        with pytest.raises(InvalidInput) as refusal:
            modeldeck.run("question-answering", qa, **{name: value})
        assert refusal.value.param == name, refusal.value


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
    # (a folder is a model name in Python: /etc is one, refused as no model fill-mask can run)
    runs_or_refuses("fill-mask", "Paris is the [MASK].",
                    refused=(InvalidInput, InvalidModelId, ModelNotAvailable, WrongModelType), model=model)


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
        with pytest.raises(InvalidInput) as refusal:
            modeldeck.run("text-to-image", "a cat", width=width, height=height, num_images=n, steps=steps)
        # about their product, no one parameter (or about one of them, over its own bound)
        assert refusal.value.param in (None, "width", "height", "num_images", "steps"), refusal.value
        assert time.monotonic() - started < 5
    elif width * height * n * steps <= 64 * 64 * 16 * 2:  # small enough to run here
        runs_or_refuses("text-to-image", "a cat", width=width, height=height, num_images=n, steps=steps)
