"""/v1/chat/completions with a modern instruct model (SmolLM2's real template on tiny weights), through the openai
package: a system prompt, several turns, streaming token by token; a model with no chat template refused by name."""

from __future__ import annotations

import pytest

import modeldeck

openai = pytest.importorskip("openai")

SMOL = "HuggingFaceTB/SmolLM2-360M-Instruct"
MESSAGES = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "Hi! I like cats."},
    {"role": "assistant", "content": "Cats are lovely."},
    {"role": "user", "content": "What do they eat?"},
]


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_a_conversation_with_a_system_prompt_answers_as_in_python(client):
    reply = client.chat.completions.create(model=SMOL, messages=MESSAGES, max_tokens=10)
    expected = modeldeck.run("chat", MESSAGES, model=SMOL, max_new_tokens=10)["content"]
    assert reply.choices[0].message.content == expected and reply.model == SMOL
    assert reply.usage.prompt_tokens > 30  # the ChatML turns, as the model reads them
    developer = [{"role": "developer", "content": MESSAGES[0]["content"]}, *MESSAGES[1:]]  # OpenAI's newer name
    assert client.chat.completions.create(model=SMOL, messages=developer, max_tokens=10).choices[0].message.content == expected


def test_the_reply_streams_token_by_token(client):
    chunks = list(client.chat.completions.create(model=SMOL, messages=MESSAGES, max_tokens=10, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 5
    assert "".join(pieces) == modeldeck.run("chat", MESSAGES, model=SMOL, max_new_tokens=10)["content"]
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_models_lists_it_as_a_chat_model(client):
    served = {m.id: m for m in client.models.list()}
    assert "chat" in served[SMOL].model_extra["tasks"]


def test_a_model_with_no_chat_template_is_refused_naming_one_to_use(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="gpt2", messages=[{"role": "user", "content": "Hi"}])
    assert "not a chat model" in str(error.value) and SMOL in str(error.value)
