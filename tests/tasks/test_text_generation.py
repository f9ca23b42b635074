"""text-generation on the fixture hub: parity with the model card's generate(), seeds, streaming, limits."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, Notice
from modeldeck.hub import resolve

PROMPT = "Hello, I'm a language model,"


@pytest.fixture(scope="module")
def gpt2_reference():
    """The model card's way: tokenizer + GPT2LMHeadModel from the same folder."""
    from transformers import GPT2LMHeadModel, GPT2Tokenizer

    path = resolve("gpt2").path
    return GPT2Tokenizer.from_pretrained(path), GPT2LMHeadModel.from_pretrained(path).eval()


def test_greedy_matches_model_card_generate(gpt2_reference):
    tokenizer, model = gpt2_reference
    encoded_input = tokenizer(PROMPT, return_tensors="pt")
    output = model.generate(**encoded_input, max_new_tokens=20, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    expected = tokenizer.decode(output[0], skip_special_tokens=True)
    assert modeldeck.run("text-generation", PROMPT, max_new_tokens=20) == [{"generated_text": expected}]


def test_seeded_sampling_matches_torch_manual_seed(gpt2_reference):
    import torch

    tokenizer, model = gpt2_reference
    encoded_input = tokenizer(PROMPT, return_tensors="pt")
    torch.manual_seed(42)
    output = model.generate(
        **encoded_input, max_new_tokens=15, do_sample=True, top_k=50, pad_token_id=tokenizer.eos_token_id
    )
    expected = tokenizer.decode(output[0], skip_special_tokens=True)
    assert modeldeck.run("text-generation", PROMPT, max_new_tokens=15, seed=42, top_k=50)[0]["generated_text"] == expected


def test_opt_matches_model_card_generate():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve("facebook/opt-350m").path
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
    inputs = tokenizer("What are we having for dinner?", return_tensors="pt")
    assert inputs["input_ids"][0, 0] == 2  # OPT's tokenizer starts with </s>
    generated_ids = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    expected = tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]
    got = modeldeck.run("text-generation", "What are we having for dinner?", model="facebook/opt-350m", max_new_tokens=12)
    assert got == [{"generated_text": expected}]


def test_same_seed_same_text_different_seed_different_text():
    run = lambda seed: modeldeck.run("text-generation", PROMPT, max_new_tokens=12, seed=seed)[0]["generated_text"]  # noqa: E731
    assert run(1) == run(1)
    assert run(1) != run(2)
    # Seeding does not leak into the caller's random state.
    import torch

    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    run(3)
    assert torch.rand(1) == before


def test_parameters_take_effect():
    runner = modeldeck.load("text-generation")
    with runner.leased() as state:
        x = state.preprocess({"text": PROMPT}, max_new_tokens=7)
        ((_, sequences, _),) = state.forward([x], max_new_tokens=7)
    assert len(sequences[0]) - len(x["ids"]) == 7
    full = runner(PROMPT, max_new_tokens=7)[0]["generated_text"]
    new_only = runner(PROMPT, max_new_tokens=7, return_full_text=False)[0]["generated_text"]
    assert full.startswith(PROMPT) and PROMPT + new_only == full
    several = runner(PROMPT, max_new_tokens=5, num_return_sequences=3, seed=0)
    assert len(several) == 3 and len({s["generated_text"] for s in several}) > 1
    greedy = runner(PROMPT, max_new_tokens=10)[0]["generated_text"]
    hot = runner(PROMPT, max_new_tokens=10, seed=5, temperature=5.0)[0]["generated_text"]
    assert hot != greedy
    assert runner(PROMPT, max_new_tokens=10, repetition_penalty=10.0)[0]["generated_text"] != greedy


def test_stream_yields_pieces_that_join_to_the_result():
    runner = modeldeck.load("text-generation")
    pieces = list(runner.stream(PROMPT, max_new_tokens=10))
    assert pieces[0] == PROMPT and len(pieces) > 2
    assert "".join(pieces) == runner(PROMPT, max_new_tokens=10)[0]["generated_text"]
    sampled = "".join(runner.stream(PROMPT, max_new_tokens=10, seed=7, return_full_text=False))
    assert sampled == runner(PROMPT, max_new_tokens=10, seed=7, return_full_text=False)[0]["generated_text"]


def test_cli_streams_to_a_terminal_and_prints_json_otherwise(cli, monkeypatch):
    from modeldeck.cli import run as run_module
    from modeldeck.runner import Runner

    expected = modeldeck.run("text-generation", PROMPT, max_new_tokens=6)[0]["generated_text"]
    pieces = []
    original = Runner.stream

    def spy(self, *args, **kwargs):
        for piece in original(self, *args, **kwargs):
            pieces.append(piece)
            yield piece

    monkeypatch.setattr(Runner, "stream", spy)
    monkeypatch.setattr(run_module, "stdout_is_terminal", lambda: True)
    result = cli("run", "text-generation", PROMPT, "--max-new-tokens", "6")
    assert result.code == 0 and result.out == expected + "\n"
    assert len(pieces) > 2
    pieces.clear()
    result = cli("run", "text-generation", PROMPT, "--max-new-tokens", "6", "--json")
    assert json.loads(result.out) == [{"generated_text": expected}] and not pieces


def test_prompt_longer_than_the_window_is_a_clear_error():
    with pytest.raises(InvalidInput, match="reads at most 1024 tokens"):
        modeldeck.run("text-generation", "word " * 1100, max_new_tokens=5)


def test_prompt_near_the_window_generates_fewer_tokens_with_a_notice(cli):
    prompt = "word " * 1020
    with pytest.warns(Notice, match=r"gpt2 reads at most 1024: generating 3 new tokens instead of 50"):
        result = modeldeck.run("text-generation", prompt, return_full_text=False)
    runner = modeldeck.load("text-generation")
    with runner.leased() as state, pytest.warns(Notice):
        x = state.preprocess({"text": prompt}, max_new_tokens=50)
    assert x["max_new_tokens"] == 3 and result[0]["generated_text"]
    out = cli("run", "text-generation", prompt, "--json")
    assert out.code == 0 and "Note: The prompt is 1021 tokens" in out.err


@pytest.mark.parametrize(
    "params, message",
    [
        ({"temperature": 0}, "temperature must be between 0.01 and 100"),
        ({"temperature": 1e-300}, "temperature must be between 0.01 and 100"),
        ({"top_p": 1.5}, "top_p must be between"),
        ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
        ({"num_return_sequences": 0}, "num_return_sequences must be at least 1"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("text-generation", PROMPT, **params)


def test_empty_prompt_is_rejected(cli):
    with pytest.raises(InvalidInput, match="empty"):
        modeldeck.run("text-generation", "  ")
    result = cli("run", "text-generation", "")
    assert result.code == 1 and "Error:" in result.err and "Traceback" not in result.err


def test_stream_checks_input_and_greedy_several_is_clear():
    from modeldeck.errors import InvalidInput

    runner = modeldeck.load("text-generation")
    with pytest.raises(InvalidInput, match="empty"):
        list(runner.stream(""))
    with pytest.raises(InvalidInput, match="need sampling"):
        runner("hi", num_return_sequences=2, do_sample=False)


def test_details_give_each_new_tokens_id_text_and_log_probability():
    import torch

    runner = modeldeck.load("text-generation")
    result = runner("Once upon a time", max_new_tokens=3, details=True, return_full_text=False)[0]
    details = result["details"]
    assert details["finish_reason"] == "length" and details["generated_tokens"] == 3 and details["seed"] is None
    assert "".join(t["text"] for t in details["tokens"]) == result["generated_text"]
    with runner.leased() as state:
        ids = state.tokenizer("Once upon a time", return_tensors="pt")["input_ids"]
        first = details["tokens"][0]
        logprobs = torch.log_softmax(state.model(ids).logits[0, -1].float(), dim=-1)
    assert first["id"] == int(logprobs.argmax()) and first["logprob"] == pytest.approx(float(logprobs.max()), abs=1e-4)
    stream = runner.stream("Once upon a time", max_new_tokens=3, details=True, return_full_text=False)
    pieces = list(stream)
    assert [i for p in pieces for i in p.ids] == [t["id"] for t in details["tokens"]]
    assert stream.result == runner("Once upon a time", max_new_tokens=3, details=True, return_full_text=False)
    plain = runner("Once upon a time", max_new_tokens=3, return_full_text=False)[0]
    assert plain == {"generated_text": result["generated_text"]}  # details only when asked
