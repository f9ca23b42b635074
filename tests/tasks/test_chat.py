"""chat on the fixture hub: parity with Blenderbot's card, multi-turn window fitting, the interactive CLI."""

import json

import pytest

import modeldeck
from modeldeck.errors import InvalidInput, Notice
from modeldeck.hub import resolve

from ..conftest import run_module

UTTERANCE = "My friends are cool but they eat too many carbs."
BLENDERBOT = "facebook/blenderbot-400M-distill"


@pytest.fixture(scope="module")
def reference():
    from transformers import BlenderbotForConditionalGeneration, BlenderbotTokenizer

    mname = resolve(BLENDERBOT).path
    return BlenderbotTokenizer.from_pretrained(mname), BlenderbotForConditionalGeneration.from_pretrained(mname).eval()


def test_one_message_matches_model_card(reference):
    tokenizer, model = reference
    inputs = tokenizer([UTTERANCE], return_tensors="pt")
    reply_ids = model.generate(**inputs, num_beams=1, max_new_tokens=20)
    expected = tokenizer.batch_decode(reply_ids, skip_special_tokens=True)[0].strip()
    assert modeldeck.run("chat", UTTERANCE, num_beams=1, max_new_tokens=20) == {"role": "assistant", "content": expected}


def test_default_generation_matches_model_card(reference):
    tokenizer, model = reference
    # The model's own settings (10 beams, no repeated 3-grams...), with a shorter reply to keep the test quick.
    reply_ids = model.generate(**tokenizer([UTTERANCE], return_tensors="pt"), max_new_tokens=8, min_length=0)
    expected = tokenizer.batch_decode(reply_ids, skip_special_tokens=True)[0].strip()
    assert modeldeck.run("chat", UTTERANCE, max_new_tokens=8)["content"] == expected


def test_conversation_uses_the_chat_template(reference):
    tokenizer, model = reference
    conversation = [
        {"role": "user", "content": "Hello there."},
        {"role": "assistant", "content": "Hi! How are you?"},
        {"role": "user", "content": UTTERANCE},
    ]
    ids = tokenizer.apply_chat_template(conversation, return_tensors="pt", return_dict=True)
    reply_ids = model.generate(**ids, num_beams=1, max_new_tokens=15, min_length=0)
    expected = tokenizer.decode(reply_ids[0], skip_special_tokens=True).strip()
    assert modeldeck.run("chat", conversation, num_beams=1, max_new_tokens=15)["content"] == expected
    # Bare strings alternate user / assistant, ending with the user.
    bare = ["Hello there.", "Hi! How are you?", UTTERANCE]
    assert modeldeck.run("chat", bare, num_beams=1, max_new_tokens=15)["content"] == expected


def test_history_that_does_not_fit_drops_the_oldest_turns_never_the_new_message():
    runner = modeldeck.load("chat")
    old = [{"role": "user", "content": "The oldest thing I said."}, {"role": "assistant", "content": "Noted."}]
    middle = []
    for i in range(8):
        middle += [{"role": "user", "content": f"Turn {i}: tell me more about bridges."}, {"role": "assistant", "content": "Bridges are long."}]
    new = {"role": "user", "content": "And now my newest message."}
    with runner.leased() as state, pytest.warns(Notice, match="Dropped the .* oldest turn"):
        x = state.preprocess({"messages": [*old, *middle, new]})
        text = state.tokenizer.decode(x["ids"])
    assert len(x["ids"]) <= state.window == 128
    assert "newest message" in text and "oldest thing" not in text
    assert text.lstrip().startswith("Turn")  # restarts on a user turn


def test_message_longer_than_the_window_is_a_clear_error(cli):
    with pytest.raises(InvalidInput, match="reads at most 128"):
        modeldeck.run("chat", "word " * 200)
    result = cli("run", "chat", "word " * 200)
    assert result.code == 1 and "Send a shorter message" in result.err


@pytest.mark.parametrize(
    "conversation, message",
    [
        ("", "message is empty"),
        ([], "conversation is empty"),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "end with the user"),
        ([{"role": "robot", "content": "Hi"}], "role one of"),
        ([{"role": "user", "content": 3}], "must be text"),
    ],
)
def test_bad_conversations_are_clear_errors(conversation, message):
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run("chat", conversation)


def test_seeded_sampling_is_reproducible():
    reply = lambda seed: modeldeck.run("chat", UTTERANCE, seed=seed, num_beams=1, max_new_tokens=8)["content"]  # noqa: E731
    assert reply(3) == reply(3) and reply(3) != reply(4)


def test_run_chat_answers_once(cli):
    out = cli("run", "chat", UTTERANCE, "--num-beams", "1", "--max-new-tokens", "6", "--json")
    assert out.code == 0 and set(json.loads(out.out)) == {"role", "content"}


def test_interactive_chat_keeps_history_and_resets(cli, monkeypatch):
    import io

    from modeldeck.runner import Runner

    seen = []
    original = Runner.stream

    def spy(self, inputs=None, /, **kwargs):  # the CLI streams each reply
        seen.append([turn["content"] for turn in inputs])
        return original(self, inputs, **kwargs)

    monkeypatch.setattr(Runner, "stream", spy)
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello there.\nHow are you?\n\n/reset\nStart again.\n"))
    result = cli("chat", "--num-beams", "1", "--max-new-tokens", "5")
    assert result.code == 0
    assert len(result.out.strip().splitlines()) == 3  # one reply per message
    assert "new conversation" in result.err
    assert seen[0] == ["Hello there."]
    assert seen[1][0] == "Hello there." and seen[1][2] == "How are you?" and len(seen[1]) == 3
    assert seen[2] == ["Start again."]


def test_chat_command_in_a_subprocess_ends_at_end_of_input():
    result = run_module("chat", "--num-beams", "1", "--max-new-tokens", "4", "--seed", "1", input="Hi!\nWhat do you like?\n")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 2
    assert "Traceback" not in result.stderr


def test_chat_command_rejects_bad_parameters_before_loading(cli):
    bad = cli("chat", "--temperature", "-1")
    assert bad.code == 1 and "temperature must be between 0.01 and 100" in bad.err


def _naive_fit(turns, encode, room):
    """The old way (one encoding per dropped turn): the reference the linear fit must agree with."""
    system = turns[:1] if turns[0]["role"] == "system" else []
    history = turns[len(system):]
    for dropped in range(len(history)):
        kept = history[dropped:]
        if kept[0]["role"] == "user" and len(encode(system + kept)) <= room:
            return encode(system + kept), dropped
    raise AssertionError("unreachable in these cases")


def test_linear_fit_keeps_what_the_one_by_one_fit_kept_and_encodes_each_turn_about_once():
    import random

    from modeldeck.conversation import fit_turns
    from modeldeck.generation import text_tokens

    runner = modeldeck.load("chat")
    rng = random.Random(0)
    words = "bridge river cat long short happy the of a is blue tomorrow".split()
    for trial in range(12):
        turns = [{"role": "system", "content": "Be brief."}] if trial % 3 == 0 else []
        for i in range(rng.randint(3, 40)):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(0 if i % 2 else 1, 30)))
            turns.append({"role": "assistant" if i % 2 else "user", "content": text})
        if turns[-1]["role"] != "user":
            turns.append({"role": "user", "content": "and now?"})
        encoded_turns = []

        def encode(part):
            encoded_turns.append(len(part))
            return runner.encode(part)

        room = rng.choice([40, 80, 128])
        try:
            expected = _naive_fit(turns, runner.encode, room)
        except Exception:  # noqa: BLE001 - the new message alone is too long here: both must refuse
            continue
        assert fit_turns(turns, encode, text_tokens(runner.tokenizer), room) == expected
        assert sum(encoded_turns) <= 4 * len(turns) + 8  # not one whole encoding per dropped turn


def test_a_20000_turn_conversation_is_refused_at_once_or_answered_within_seconds(monkeypatch):
    import time

    turns = []
    for i in range(20_000):
        turns.append({"role": "user" if i % 2 == 0 else "assistant", "content": f"Message {i} about bridges."})
    turns.append({"role": "user", "content": "And the newest?"})
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=r"number of turns in the conversation is 20,001, over the limit of 1,000 "
                                           r"turns per conversation.*MODELDECK_MAX_TURNS="):
        modeldeck.run("chat", turns, max_new_tokens=2)
    assert time.monotonic() - started < 2
    monkeypatch.setenv("MODELDECK_MAX_TURNS", "30000")
    started = time.monotonic()
    with pytest.warns(Notice, match=r"Dropped the 199\d\d oldest turn"):
        reply = modeldeck.run("chat", turns, max_new_tokens=2, num_beams=1)
    assert reply["role"] == "assistant"
    assert time.monotonic() - started < 15, "fitting the window must take time linear in the conversation"


def test_a_conversation_over_the_character_cap_is_refused(monkeypatch):
    monkeypatch.setenv("MODELDECK_MAX_TEXT_CHARS", "1000")
    turns = [{"role": "user", "content": "x" * 600}, {"role": "assistant", "content": "ok"},
             {"role": "user", "content": "y" * 600}]
    with pytest.raises(InvalidInput, match=r"length of the conversation \(characters\) is 1,202, over the limit of 1,000"):
        modeldeck.run("chat", turns)
