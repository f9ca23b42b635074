"""Request bodies of the OpenAI routes (pydantic: they give FastAPI its validation and OpenAPI docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """Unknown fields are kept, so each can be refused by name (or let through when it is a no-op)."""

    model_config = ConfigDict(extra="allow")


class ContentPart(Open):
    type: str
    text: str | None = None


class Message(Open):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(Open):
    include_usage: bool | None = None


class Sampling(Open):
    max_tokens: int | None = Field(None, ge=1, description="most tokens to generate")
    temperature: float | None = Field(None, ge=0, le=2, description="0: greedy; above: sampling")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    stop: str | list[str] | None = Field(None, description="up to 4 sequences where the text stops")
    n: int | None = Field(None, ge=1, le=16, description="how many choices")
    stream: bool | None = False
    stream_options: StreamOptions | None = None


class ChatRequest(Sampling):
    model: str = Field(..., min_length=1, examples=["facebook/blenderbot-400M-distill"])
    messages: list[Message] = Field(..., min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


class CompletionRequest(Sampling):
    model: str = Field(..., min_length=1, examples=["gpt2"])
    prompt: str | list[str] = Field(..., description="text to continue (a list: one choice set each)")
    echo: bool | None = False


class EmbeddingRequest(Open):
    model: str = Field(..., min_length=1, examples=["sentence-transformers/all-MiniLM-L6-v2"])
    input: str | list[str] = Field(..., description="a text or a list of texts")
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None


class SpeechRequest(Open):
    model: str = Field(..., min_length=1, examples=["tts-1"])
    input: str = Field(..., min_length=1, max_length=20_000)
    voice: str | dict[str, Any] = Field(..., examples=["alloy"])
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] | None = "mp3"
    speed: float | None = Field(1.0, ge=0.25, le=4.0)
    instructions: str | None = None


class ImageRequest(Open):
    prompt: str = Field(..., min_length=1)
    model: str | None = Field(None, examples=["CompVis/stable-diffusion-v1-4"])
    n: int | None = Field(1, ge=1, le=10)
    size: str | None = Field(None, examples=["512x512"], description="WIDTHxHEIGHT, multiples of 8")
    response_format: Literal["b64_json", "url"] | None = "b64_json"
    seed: int | None = Field(None, ge=0)
    user: str | None = None
    # modeldeck's own settings (openai's client sends them through extra_body), checked like the task's
    steps: int | None = Field(None, description="denoising steps (default: the model's own; quality sets them too)")
    guidance_scale: float | None = Field(None, description="how closely to follow the prompt")
    negative_prompt: str | None = Field(None, description="what the picture should not show")
    quality: str | None = Field(None, description="low, medium, high, auto (gpt-image-1) or standard, hd (dall-e-3): "
                                                  "steps relative to the model's own")
