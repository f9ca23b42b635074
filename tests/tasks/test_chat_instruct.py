"""chat with a modern small instruct model: HuggingFaceTB/SmolLM2-360M-Instruct's real config and chat template on
tiny random weights (tests/fixtures/models_generative.py). Multi-turn, system prompt, streaming token by token,
batched replies equal to lone ones, the CLI and the web UI's chat window; models without a template refused."""

from __future__ import annotations

import io
import json

import pytest

import modeldeck
from modeldeck.errors import WrongModelType
from modeldeck.hub import resolve

SMOL = "HuggingFaceTB/SmolLM2-360M-Instruct"
CONVERSATION = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "Hi! I like cats."},
    {"role": "assistant", "content": "Cats are lovely."},
    {"role": "user", "content": "What do they eat?"},
]


@pytest.fixture(scope="module")
def reference():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve(SMOL).path
    return AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()


def card_reply(reference, messages, max_new_tokens=10):
    """The model card's way: apply_chat_template with the generation prompt, generate, decode the new tokens."""
    tokenizer, model = reference
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_the_fixture_has_the_real_template_and_special_tokens(reference):
    tokenizer, model = reference
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, model.config.vocab_size) == (1, 2, 49152)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.tie_word_embeddings


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Hi there!"}],  # the template's own system prompt goes in
    CONVERSATION,  # a system prompt and several turns
], ids=["one-message", "system-and-turns"])
def test_replies_match_the_model_cards_usage(reference, messages):
    assert modeldeck.run("chat", messages, model=SMOL, max_new_tokens=10) == {
        "role": "assistant", "content": card_reply(reference, messages)}


def test_the_reply_streams_token_by_token_and_joins_to_the_result():
    runner = modeldeck.load("chat", SMOL)
    stream = runner.stream(CONVERSATION, max_new_tokens=10)
    pieces = list(stream)
    assert len(pieces) >= 5  # one piece per token or so, not the reply in one go
    assert "".join(pieces) == stream.result["content"] == runner(CONVERSATION, max_new_tokens=10)["content"]


def test_batched_greedy_replies_equal_each_alone():
    runner = modeldeck.load("chat", SMOL, batch_wait=0)
    conversations = [CONVERSATION, [{"role": "user", "content": "Hello"}], CONVERSATION[:2]]
    alone = [runner(c, max_new_tokens=8) for c in conversations]
    together = runner(conversations, max_new_tokens=8)  # one padded pass, shorter prompts padded on the left
    assert together == alone
    with runner.leased() as state:
        assert state.engine.stats[("size", 3)] >= 1


def test_the_window_is_the_models_own():
    with modeldeck.load("chat", SMOL).leased() as state:
        assert state.window == 8192 and not state.seq2seq


def test_a_decoder_only_model_without_a_chat_template_is_refused_naming_a_chat_model(cli):
    with pytest.raises(WrongModelType, match=f"gpt2 is not a chat model.*{SMOL}"):
        modeldeck.run("chat", "Hi", model="gpt2")
    result = cli("run", "chat", "Hi", "-m", "gpt2")
    assert result.code == 1 and SMOL in result.err and "text-generation" in result.err


def test_the_catalog_says_an_instruct_model_chats():
    from modeldeck.catalog import tasks_for

    assert {"chat", "text-generation"} <= set(tasks_for(SMOL, resolve(SMOL).path))
    assert "chat" not in tasks_for("gpt2", resolve("gpt2").path)


def test_cli_run_and_interactive_chat_with_a_system_prompt(cli, monkeypatch, reference):
    out = cli("run", "chat", "Hi there!", "-m", SMOL, "--max-new-tokens", "10", "--json")
    assert out.code == 0, out.err
    assert json.loads(out.out) == {"role": "assistant", "content": card_reply(reference, [{"role": "user", "content": "Hi there!"}])}
    monkeypatch.setattr("sys.stdin", io.StringIO("Hi! I like cats.\nWhat do they eat?\n"))
    result = cli("chat", "-m", SMOL, "--system", "You answer in one short sentence.", "--max-new-tokens", "10")
    assert result.code == 0, result.err
    first, second = result.out.strip("\n").split("\n")[:2]
    assert first == card_reply(reference, CONVERSATION[:2])
    assert second == card_reply(reference, [*CONVERSATION[:2], {"role": "assistant", "content": first},
                                            CONVERSATION[3]])


def test_the_web_uis_chat_window_streams_the_instruct_models_reply(reference):
    pytest.importorskip("gradio")
    from modeldeck.ui.app import build_app
    from modeldeck.ui.chat import conversation

    tab = build_app(["chat"]).modeldeck_tabs["chat"]
    states = list(tab.send("Hi! I like cats.", [], *tab.values({"max_new_tokens": 10}, model=SMOL)))
    replies = [conversation(state[0])[-1]["content"] for state in states if conversation(state[0])[-1]["role"] == "assistant"]
    assert len(set(replies)) >= 4  # the window grew piece by piece
    history = states[-1][0]
    assert conversation(history)[-1]["content"] == card_reply(reference, [{"role": "user", "content": "Hi! I like cats."}])
    states = list(tab.send("What do they eat?", history, *tab.values({"max_new_tokens": 10}, model=SMOL)))
    turns = conversation(states[-1][0])
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[-1]["content"] == card_reply(reference, turns[:3])
