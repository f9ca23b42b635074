"""chat: the next reply in a conversation.

A conversation is a list of ``{"role": "user" | "assistant" | "system", "content": str}``
turns ending with the new user message (a plain string is a one-message
conversation). It is written out with the tokenizer's chat template (for
Blenderbot, the template on its model card repo; an encoder-decoder model without
one gets the format transformers' old conversational pipeline used), keeping the
most recent turns that fit the model's window: the oldest go first, the new
message never. Encoder-decoder models (Blenderbot) generate the reply from the
conversation; decoder-only instruct models (SmolLM2, Qwen2.5...) continue it
after the template's assistant prompt. A decoder-only model without a chat
template was never taught turns (gpt2 would ramble on as the user): refused,
naming a chat model to use.
"""

from __future__ import annotations

from typing import Any

from .. import generation as gen
from ..errors import InvalidInput, WrongModelType, about
from ..spec import Input, TaskSpec, check_text
from ..task import Streaming, Task

ROLES = ("system", "user", "assistant")
# A modern small instruct model (Apache-2.0, 360M parameters, 8k-token window, follows a system prompt):
# named in errors and the README as the chat model to use beside the default.
INSTRUCT_MODEL = "HuggingFaceTB/SmolLM2-360M-Instruct"
DEFAULT_REPLY_TOKENS = 1024


def not_a_chat_model(model_id: str, default: str) -> WrongModelType:
    """For a decoder-only model without a chat template: it was never taught turns."""
    return WrongModelType(
        f"{model_id} is not a chat model: it has no chat template, so it continues text without knowing whose turn "
        "it is.",
        f"Use a chat model: {INSTRUCT_MODEL} (small, follows a system prompt) or {default}; "
        f"or continue text with it: modeldeck run text-generation ... -m {model_id}",
    )


def as_conversation(value: Any) -> list[dict[str, str]]:
    """A plain message or a list of turns, checked, as a list of {"role", "content"}."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInput(
            "The conversation is empty.", 'Give a message, or a list of {"role": ..., "content": ...} turns.'
        )
    from ..limits import check_conversation

    check_conversation(value)  # turns and characters under their caps, before any turn is looked at
    turns = []
    for i, turn in enumerate(value):
        if isinstance(turn, str):  # bare strings alternate user / assistant, ending with the user
            role = "user" if (len(value) - 1 - i) % 2 == 0 else "assistant"
            turn = {"role": role, "content": turn}
        if not isinstance(turn, dict) or "content" not in turn or turn.get("role") not in ROLES:
            raise InvalidInput(
                f"Turn {i + 1} of the conversation is not a {{'role', 'content'}} dict with role one of {', '.join(ROLES)}.",
                'Write turns like {"role": "user", "content": "Hello!"}.',
            )
        if not isinstance(turn["content"], str):
            raise InvalidInput(f"Turn {i + 1}'s content must be text, not {type(turn['content']).__name__}.")
        check_text(turn["content"], f"turn {i + 1}")
        turns.append({"role": turn["role"], "content": turn["content"]})
    if turns[-1]["role"] != "user":
        raise InvalidInput("The conversation must end with the user's new message.", "Append a user turn.")
    if not turns[-1]["content"].strip():
        raise InvalidInput("The message is empty: say something.")
    return turns


class Chat(Streaming, Task):
    spec = TaskSpec(
        name="chat",
        summary="Reply to a message in a conversation (CLI: 'modeldeck chat' for an interactive session).",
        default_model="facebook/blenderbot-400M-distill",
        inputs=(
            Input("messages", "messages", help='the new message, or the conversation as [{"role", "content"}] turns'),
        ),
        output="message",
        output_help='{"role": "assistant", "content"}',
        params=(gen.MAX_NEW_TOKENS, gen.NUM_BEAMS, *gen.SAMPLING_PARAMS),
        aliases=("conversational",),
        examples=({"messages": "My friends are cool but they eat too many carbs."},),
    )

    max_batch_size = 16  # greedy and beam replies with equal settings share a padded generate() call

    def load(self) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        from ..backends.ctranslate2 import load_generator
        from ..backends.transformers import load_processor

        config = AutoConfig.from_pretrained(self.model_path, trust_remote_code=False)
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
        self.tokenizer = load_processor(AutoTokenizer, self.model_path)
        if not self.seq2seq and not getattr(self.tokenizer, "chat_template", None):  # before the weights load
            raise not_a_chat_model(self.model_id, self.spec.default_model)
        load_generator(self, cls)  # torch only: chat has no CTranslate2 path

    @classmethod
    def check_checkpoint(cls, model_id, folder, config) -> None:
        from ..catalog import has_chat_template
        from ..heads import accepted

        # only a plain causal LM is judged here (an encoder-decoder needs no template: load() decides the rest)
        names = config.get("architectures") if isinstance(config, dict) else None
        causal = isinstance(names, list) and bool(names) and set(names) <= accepted("text-generation")
        if causal and not config.get("is_encoder_decoder") and not has_chat_template(folder):
            raise not_a_chat_model(model_id, cls.spec.default_model)

    @classmethod
    def check(cls, inputs, params) -> None:
        with about("messages"):
            inputs["messages"] = as_conversation(inputs["messages"])  # a message or a whole conversation

    def validate(self, inputs, params) -> None:
        gen.check_decoding(params)
        if self.seq2seq:  # the reply has the decoder's window to itself
            gen.check_room(params, "max_new_tokens", self.window, self.model_id)

    def encode(self, turns: list[dict[str, str]]) -> list[int]:
        """Token ids of the conversation as the model reads it."""
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template(turns, tokenize=True, add_generation_prompt=not self.seq2seq)
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        # transformers' former ConversationalPipeline: each turn's tokens, then EOS.
        eos = tokenizer.eos_token_id
        ids: list[int] = []
        for turn in turns:
            ids += tokenizer(turn["content"], add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else [])
        return ids

    def count_tokens(self, value, special=False) -> int:
        if isinstance(value, list):  # a conversation, as the model reads it
            return len(self.encode(as_conversation(value)))
        return super().count_tokens(value, special)

    def fit(self, turns: list[dict[str, str]], room: int) -> tuple[list[int], int]:
        """The ids of the latest turns that fit in ``room`` tokens, and how many turns were dropped."""
        from ..conversation import MessageTooLong, fit_turns
        from ..generation import text_tokens

        try:
            return fit_turns(turns, self.encode, text_tokens(self.tokenizer), room)
        except MessageTooLong as e:
            raise InvalidInput(
                f"The message is {e.tokens} tokens with the chat format; {self.model_id} reads at most {room}.",
                "Send a shorter message.",
            ) from None

    def preprocess(self, inputs, max_new_tokens=None, **_):
        turns = inputs["messages"]
        # Encoder-decoder models read the conversation in the encoder; decoder-only ones need room to reply.
        reply_room = 0 if self.seq2seq else (max_new_tokens or min(256, self.window // 4))
        if reply_room >= self.window:
            raise InvalidInput(
                f"max_new_tokens is {reply_room}, but {self.model_id} reads at most {self.window} tokens in all.",
                f"Use --max-new-tokens {self.window // 2} or less, leaving room for the conversation.",
                param="max_new_tokens",
            )
        ids, dropped = self.fit(turns, self.window - reply_room)
        if dropped:
            gen.notice(f"Dropped the {dropped} oldest turn(s) to fit {self.model_id}'s {self.window}-token window.")
        room = self.window - len(ids)
        # A decoder-only reply is cut at the window, and (unless asked for more) at 1024 tokens, so that
        # replies to conversations of different lengths can share a pass.
        limit = None if self.seq2seq else min(max_new_tokens or DEFAULT_REPLY_TOKENS, room)
        return {"ids": ids, "max_new_tokens": limit}

    def batch_key(self, x):
        return x["max_new_tokens"]

    def cost(self, x) -> int:
        return len(x["ids"]) + (x["max_new_tokens"] or 0)

    def can_batch(self, params) -> bool:
        return not gen.sampling_on(params)

    def _kwargs(self, x, params) -> dict:
        kwargs = gen.decoding_kwargs(params)
        floor = self.model.generation_config.min_length or 0
        if kwargs.get("max_new_tokens") is not None and floor > kwargs["max_new_tokens"]:
            kwargs["min_length"] = 0  # the user asked for a shorter reply than the model's usual minimum
        if x["max_new_tokens"] is not None:
            kwargs["max_new_tokens"] = x["max_new_tokens"]
        kwargs["pad_token_id"] = self.pad_token_id
        return gen.own_draws(kwargs, self.model.generation_config, params.get("seed"))

    def _reply(self, x, sequence: list[int]) -> list[int]:
        return sequence if self.seq2seq else sequence[len(x["ids"]) :]

    def forward(self, batch, **params):
        kwargs = self._kwargs(batch[0], params)
        with gen.drawing(kwargs, params.get("seed")):  # beam sampling only
            sequences = gen.generate_batch(
                self.model, [x["ids"] for x in batch], kwargs, pad=self.pad_token_id, ends=self.ends,
                decoder_only=not self.seq2seq, device=self.device,
            )
        return [self._reply(x, sequence) for x, sequence in zip(batch, sequences)]

    def forward_stream(self, x, emit, **params):
        import torch

        started = False

        def emit_stripped(piece: str) -> None:  # the reply is stripped, so its pieces are too
            nonlocal started
            if not started:
                piece = piece.lstrip()
                started = bool(piece)
            if piece:
                emit(piece)

        decode = lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
        prompt = [] if self.seq2seq else x["ids"]
        kwargs = self._kwargs(x, params)
        ids = torch.tensor([x["ids"]], device=self.device)
        with gen.drawing(kwargs, params.get("seed")):
            out = gen.stream_generate(self.model.generate, decode, prompt, emit_stripped, input_ids=ids,
                                      attention_mask=torch.ones_like(ids), **kwargs)
        return self._reply(x, out[0].tolist())

    def postprocess(self, reply, **_):
        return {"role": "assistant", "content": self.tokenizer.decode(reply, skip_special_tokens=True).strip()}


TASK = Chat
