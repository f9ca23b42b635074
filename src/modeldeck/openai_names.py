"""OpenAI model names and the task each stands for (served by the task's default model): read by the server's
OpenAI routes and by ``modeldeck stop`` (``modeldeck.held``). No imports: both sides can use it."""

# OpenAI model names: the task they stand for, served by its default model.
OPENAI_ALIASES = {
    "whisper-1": "automatic-speech-recognition",
    "gpt-4o-transcribe": "automatic-speech-recognition",
    "gpt-4o-mini-transcribe": "automatic-speech-recognition",
    "tts-1": "text-to-speech",
    "tts-1-hd": "text-to-speech",
    "gpt-4o-mini-tts": "text-to-speech",
    "text-embedding-3-small": "feature-extraction",
    "text-embedding-3-large": "feature-extraction",
    "text-embedding-ada-002": "feature-extraction",
    "dall-e-2": "text-to-image",
    "dall-e-3": "text-to-image",
    "gpt-image-1": "text-to-image",
}
