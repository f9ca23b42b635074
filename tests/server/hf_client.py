"""Drive a running ``modeldeck serve`` with huggingface_hub.InferenceClient, one check per task.

Run as a script in a subprocess whose environment has HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE removed (InferenceClient refuses every request, loopback
included, when HF_HUB_OFFLINE=1 is set at its import). Prints one JSON object:
check name -> {"ok": value} or {"error": type, "status": int, "message": str}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

assert "HF_HUB_OFFLINE" not in os.environ, "run with HF_HUB_OFFLINE unset"

from huggingface_hub import InferenceClient

BASE = sys.argv[1]
DATA = Path(__file__).parent.parent / "fixtures" / "data"
CATS = DATA / "coco-000000039769-cats.png"
JFK = DATA / "jfk.flac"


_clients: list[InferenceClient] = []  # kept alive: a collected client closes its open streams


def client(model: str) -> InferenceClient:
    _clients.append(InferenceClient(model=f"{BASE}/models/{model}"))
    return _clients[-1]


def plain(value):
    """Client outputs (dataclasses, numpy, PIL, bytes) as JSON-friendly values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, bytes):
        return {"bytes": len(value), "head": value[:4].hex()}
    if type(value).__module__.startswith("PIL"):
        return {"image": list(value.size)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


CHECKS = {
    "feature_extraction": lambda: client("sentence-transformers/all-MiniLM-L6-v2").feature_extraction("Hello there"),
    "sentence_similarity": lambda: client("sentence-transformers/all-MiniLM-L6-v2").sentence_similarity(
        "A cat sits.", ["A cat is sitting.", "Stocks fell today."]),
    "text_classification": lambda: client("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    .text_classification("I love this!"),
    "fill_mask": lambda: client("google-bert/bert-base-uncased").fill_mask("Paris is the [MASK] of France.", top_k=3),
    "summarization": lambda: client("facebook/bart-large-cnn").summarization(
        "The tower is 324 metres tall, about the same height as an 81-storey building.",
        generate_parameters={"max_length": 12}),
    "translation": lambda: client("facebook/nllb-200-distilled-600M").translation(
        "Hello world", src_lang="eng_Latn", tgt_lang="fra_Latn"),
    "text_generation": lambda: client("gpt2").text_generation("Once upon a time", max_new_tokens=5),
    "text_generation_stream": lambda: list(client("gpt2").text_generation("Once upon a time", max_new_tokens=5,
                                                                          stream=True)),
    "text_generation_details": lambda: client("gpt2").text_generation("Once upon a time", max_new_tokens=5,
                                                                      details=True),
    "text_generation_details_stream": lambda: list(client("gpt2").text_generation(
        "Once upon a time", max_new_tokens=5, details=True, stream=True)),
    # after details (TGI's parameters): the client must still stream from this model
    "text_generation_stream_after_details": lambda: list(client("gpt2").text_generation(
        "Once upon a time", max_new_tokens=5, stream=True)),
    "chat_completion": lambda: client("facebook/blenderbot-400M-distill").chat_completion(
        [{"role": "user", "content": "Hi there"}], max_tokens=8),
    "chat_completion_stream": lambda: [c.choices[0].delta.content for c in client(
        "facebook/blenderbot-400M-distill").chat_completion([{"role": "user", "content": "Hi"}], max_tokens=8,
                                                            stream=True) if c.choices],
    "question_answering": lambda: client("deepset/roberta-base-squad2").question_answering(
        question="Where do I live?", context="My name is Clara and I live in Berkeley."),
    "automatic_speech_recognition": lambda: client("openai/whisper-base").automatic_speech_recognition(JFK),
    "text_to_speech": lambda: client("kakao-enterprise/vits-ljs").text_to_speech("Hello world."),
    "object_detection": lambda: client("facebook/detr-resnet-50").object_detection(CATS),
    "object_detection_threshold": lambda: client("facebook/detr-resnet-50").object_detection(CATS, threshold=0.0),
    "image_to_text": lambda: client("Salesforce/blip-image-captioning-base").image_to_text(CATS),
    "visual_question_answering": lambda: client("Salesforce/blip-vqa-base").visual_question_answering(
        CATS, "How many cats are there?"),
    "zero_shot_image_classification": lambda: client("openai/clip-vit-large-patch14").zero_shot_image_classification(
        CATS, candidate_labels=["cats", "dogs"]),
    "zero_shot_classification": lambda: client("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    .zero_shot_classification("I love this!", candidate_labels=["happy", "sad"]),
    "text_to_image": lambda: client("CompVis/stable-diffusion-v1-4").text_to_image(
        "a red square", num_inference_steps=2, width=64, height=64, seed=1),
    "image_to_image": lambda: client("CompVis/stable-diffusion-v1-4").image_to_image(
        CATS, prompt="a painting", num_inference_steps=2, target_size={"width": 64, "height": 64}),
    "base_url_chat": lambda: InferenceClient(base_url=f"{BASE}/v1").chat_completion(
        [{"role": "user", "content": "Hello"}], model="facebook/blenderbot-400M-distill", max_tokens=6),
    "missing_model": lambda: client("nobody/no-such-model").text_classification("Hi"),
}


def main() -> None:
    only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 and sys.argv[2] else set(CHECKS)
    results = {}
    for name, check in CHECKS.items():
        if name not in only:
            continue
        try:
            results[name] = {"ok": plain(check())}
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            response = getattr(e, "response", None)
            results[name] = {"error": type(e).__name__, "status": getattr(response, "status_code", None),
                             "message": str(e)[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
