"""InferenceClient's methods for the classification, tagging and segmentation tasks against a running
``modeldeck serve``, one check each (run as a script, like hf_client.py, whose helpers it uses)."""

from __future__ import annotations

import json
import sys

from hf_client import BASE, CATS, JFK, InferenceClient, client, plain

TEXT = "My name is Wolfgang and I live in Berlin."

CHECKS = {
    "image_classification": lambda: client("google/vit-base-patch16-224").image_classification(CATS),
    "image_classification_top_k": lambda: client("google/vit-base-patch16-224").image_classification(CATS, top_k=3),
    # a detector asked for labels: with a parameter the call is told apart from detection, and refused
    "image_classification_on_detr": lambda: client("facebook/detr-resnet-50").image_classification(CATS, top_k=3),
    "image_classification_on_detr_route": lambda: InferenceClient(
        model=f"{BASE}/models/facebook/detr-resnet-50/pipeline/image-classification").image_classification(CATS),
    "token_classification": lambda: client("dslim/bert-base-NER").token_classification(TEXT),
    "token_classification_first": lambda: client("dslim/bert-base-NER").token_classification(
        TEXT, aggregation_strategy="first", ignore_labels=[]),
    "zero_shot_classification": lambda: client("facebook/bart-large-mnli").zero_shot_classification(
        "I have a problem with my iphone that needs to be resolved asap!!", ["urgent", "phone", "tablet"]),
    "zero_shot_classification_multi": lambda: client("facebook/bart-large-mnli").zero_shot_classification(
        "I have a problem with my iphone", ["urgent", "phone"], multi_label=True,
        hypothesis_template="This text is about {}."),
    "image_segmentation": lambda: client("nvidia/segformer-b0-finetuned-ade-512-512").image_segmentation(CATS),
    "image_segmentation_panoptic": lambda: client("facebook/detr-resnet-50-panoptic").image_segmentation(
        CATS, threshold=0.0, subtask="panoptic"),
    "audio_classification": lambda: client("MIT/ast-finetuned-audioset-10-10-0.4593").audio_classification(JFK),
    "audio_classification_top_k": lambda: client("MIT/ast-finetuned-audioset-10-10-0.4593").audio_classification(
        JFK, top_k=2),
}


def main() -> None:
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = {"ok": plain(check())}
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            response = getattr(e, "response", None)
            results[name] = {"error": type(e).__name__, "status": getattr(response, "status_code", None),
                             "message": str(e)[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
