"""question-answering on the fixture hub: parity with the written-out model card usage, offsets, stride, no answer."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput
from modeldeck.hub import resolve

QUESTION = "Why is model conversion important?"
CONTEXT = (
    "The option to convert models between FARM and transformers gives freedom to the user and let people "
    "easily switch between frameworks."
)


def reference_answer(question, context, max_answer_len=15):
    """deepset/roberta-base-squad2's card, option b), written out: tokenizer + model, best span by p(start) * p(end)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model_name = str(resolve("deepset/roberta-base-squad2").path)
    model = AutoModelForQuestionAnswering.from_pretrained(model_name).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    inputs = tokenizer(question, context, return_tensors="pt", return_offsets_mapping=True)
    offsets = inputs.pop("offset_mapping")[0].tolist()
    with torch.no_grad():
        out = model(**inputs)
    in_context = torch.tensor([s == 1 for s in inputs.sequence_ids(0)])
    allowed = in_context.clone()
    allowed[0] = True  # <s>: "no answer"
    start = out.start_logits[0].masked_fill(~allowed, -10000.0).softmax(-1)
    end = out.end_logits[0].masked_fill(~allowed, -10000.0).softmax(-1)
    best = (0.0, 0, 0)
    positions = in_context.nonzero().flatten().tolist()
    for s in positions:
        for e in positions:
            if s <= e < s + max_answer_len and float(start[s] * end[e]) > best[0]:
                best = (float(start[s] * end[e]), s, e)
    score, s, e = best
    char_start, char_end = offsets[s][0], offsets[e][1]
    return {"answer": context[char_start:char_end], "score": score, "start": char_start, "end": char_end}


@pytest.mark.parametrize("max_answer_len", [15, 3])
def test_matches_written_out_model_card_usage(max_answer_len):
    expected = reference_answer(QUESTION, CONTEXT, max_answer_len)
    got = modeldeck.run("question-answering", {"question": QUESTION, "context": CONTEXT}, max_answer_len=max_answer_len)
    assert (got["answer"], got["start"], got["end"]) == (expected["answer"], expected["start"], expected["end"])
    assert got["score"] == pytest.approx(expected["score"], rel=1e-5)


@pytest.mark.parametrize(
    "context",
    [
        CONTEXT,
        "  Leading spaces,\ttabs and\n\nnew lines — and “quotes”, accents: café, naïve, 東京, emoji 🙂 too.  ",
        "Short.",
    ],
)
def test_offsets_point_into_the_original_context(context):
    answers = modeldeck.run("question-answering", {"question": "What?", "context": context}, top_k=10)
    assert answers and answers == sorted(answers, key=lambda a: -a["score"])
    for a in answers:
        assert context[a["start"] : a["end"]] == a["answer"]
        assert 0 <= a["score"] <= 1


def test_long_context_is_read_in_overlapping_windows():
    sentences = [f"Sentence number {i} talks about the city of Town{i} and its {i} bridges." for i in range(60)]
    context = " ".join(sentences)
    runner = modeldeck.load("question-answering")
    with runner.leased() as state:
        windows = state.preprocess({"question": "Which city?", "context": context}, max_seq_len=64, doc_stride=16)
    assert len(windows) > 10  # many windows, each run as a part of its own
    answers = runner({"question": "Which city?", "context": context}, top_k=200, max_seq_len=64, doc_stride=16)
    for a in answers:
        assert context[a["start"] : a["end"]] == a["answer"]
    # Answers come from the whole context, not just the first window.
    assert max(a["start"] for a in answers) > len(context) * 3 // 4
    assert min(a["start"] for a in answers) < len(context) // 4
    # The default window (384 tokens) reads the same context too.
    default = runner({"question": "Which city?", "context": context})
    assert context[default["start"] : default["end"]] == default["answer"]


def test_no_answer_when_the_model_says_so_and_the_user_allows_it():
    import torch

    runner = modeldeck.load("question-answering")
    with runner.leased() as state:
        windows = state.preprocess({"question": QUESTION, "context": CONTEXT})
        # A model that puts all its weight on <s> (its way of saying "no answer").
        outputs = []
        for window in windows:
            start = torch.zeros(len(window["tokens"]["input_ids"]), dtype=torch.float)
            end = torch.zeros_like(start)
            start[0] = end[0] = 20.0
            outputs.append((window, start, end))
        allowed = state.postprocess(outputs, handle_impossible_answer=True)
        refused = state.postprocess(outputs, handle_impossible_answer=False)
    assert allowed == {"answer": "", "score": pytest.approx(1.0, abs=1e-3), "start": 0, "end": 0}
    assert refused["answer"] and CONTEXT[refused["start"] : refused["end"]] == refused["answer"]
    # With the real (random) weights, the no-answer option is ranked among the spans.
    answers = runner({"question": QUESTION, "context": CONTEXT}, top_k=500, handle_impossible_answer=True)
    assert {"answer": "", "start": 0, "end": 0}.items() <= next(a for a in answers if a["answer"] == "").items()


def test_top_k_and_max_answer_len():
    answers = modeldeck.run("question-answering", {"question": QUESTION, "context": CONTEXT}, top_k=5, max_answer_len=2)
    assert len(answers) == 5
    for a in answers:
        assert modeldeck.load("question-answering").count_tokens(a["answer"]) <= 3


@pytest.mark.parametrize(
    "inputs, params, message",
    [
        ({"question": "Why?", "context": ""}, {}, "context is empty"),
        ({"question": "Why?", "context": "   "}, {}, "context is empty"),
        ({"question": "", "context": CONTEXT}, {}, "question is empty"),
        ({"question": "Why?", "context": CONTEXT}, {"max_seq_len": 5000}, "reads at most 512"),
        ({"question": "Why?", "context": CONTEXT}, {"doc_stride": 400}, "doc_stride"),
        ({"question": " ".join(["why"] * 100), "context": CONTEXT}, {}, "question is 100 tokens"),
    ],
)
def test_bad_input_is_a_clear_error(inputs, params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("question-answering", inputs, **params)


def test_cli_json_and_text(cli):
    out = cli("run", "question-answering", QUESTION, CONTEXT, "--json")
    assert out.code == 0
    answer = json.loads(out.out)
    assert set(answer) == {"answer", "score", "start", "end"} and CONTEXT[answer["start"] : answer["end"]] == answer["answer"]
    listed = json.loads(cli("run", "qa", QUESTION, CONTEXT, "--top-k", "3", "--json").out)
    assert len(listed) == 3
    text = cli("run", "qa", QUESTION, CONTEXT)
    assert text.out.startswith(answer["answer"]) and "score" in text.out
    empty = cli("run", "qa", QUESTION, "")
    assert empty.code == 1 and "context is empty" in empty.err
