"""What every OpenAI route shares: its error responses, refusing fields it does not honour, the model to load,
and answer ids."""

from __future__ import annotations

import uuid

from ..pipelines import get_task
from .errors import COMMON, ClientError, error_responses
from .models import OPENAI_ALIASES
from .openai_models import Open

NOOPS = {"user", "store", "metadata", "service_tier", "parallel_tool_calls", "logprobs", "frequency_penalty",
         "presence_penalty", "top_logprobs", "logit_bias", "modalities", "reasoning_effort"}
ERRORS = error_responses("openai", *COMMON, 501, 507)


def refuse_extras(body: Open) -> None:
    """Refuse, by name, fields this server does not honour (unless they are off or a no-op)."""
    for name, value in (body.model_extra or {}).items():
        if value in (None, False, 0, "", [], {}) or (name in NOOPS and not value):
            continue
        if name in NOOPS and name in ("user", "store", "metadata", "service_tier", "parallel_tool_calls"):
            continue
        raise ClientError(400, f"{name} is not supported by this server.", param=name,
                          hint="Leave it out.", code="unsupported_parameter")


def model_for(state, name: str, task: str) -> str | None:
    """The model to load for ``task``: None (the task's default) for OpenAI's own names."""
    if name in OPENAI_ALIASES:
        if OPENAI_ALIASES[name] != task:
            raise ClientError(400, f"{name} is a model for {OPENAI_ALIASES[name]}, not {task}.", param="model")
        return None
    if task == "chat":
        from ..catalog import has_chat_template
        from ..pipelines.chat import INSTRUCT_MODEL

        tasks = state.models.tasks_for(name)
        if "chat" in tasks or ("text-generation" in tasks and has_chat_template(state.models.folder(name))):
            return name
        raise ClientError(400, f"Model {name} is not a chat model (it serves: {', '.join(tasks) or 'nothing here'}).",
                          param="model", hint=f"Use a chat model, e.g. {INSTRUCT_MODEL} or {get_task('chat').spec.default_model} "
                          "(GET /v1/models lists the chat models here).", code="wrong_task")
    state.models.require(name, task)
    return name


def new_id(prefix: str) -> str:
    """An answer's id, as OpenAI writes them (``chatcmpl-...``)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"
