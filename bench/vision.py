"""Rank texts against one image with BLIP image-text matching: the model card's way (processor +
model per pair) and modeldeck's (the image encoded once, texts batched), in one run.

The Hub is unreachable here, so the model is a randomly initialised BLIP with the exact shapes of
Salesforce/blip-itm-base-coco (ViT-B/16 at 384 px, BERT-base text encoder, BLIP's processor);
timings depend on the shapes, not on the weight values. Scores are checked to agree. Prints a
JSON line and a markdown row; the ratio is the plain time over modeldeck's (> 1: modeldeck faster).

    python bench/vision.py [--texts 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fixtures (the real BERT vocab)

TEXTS = [
    "two cats sleeping on a pink blanket", "a dog running on the beach", "a remote control on a couch",
    "an astronaut in a white suit", "a plate of food on a table", "a red car parked in the street",
    "a cat lying next to a remote", "people walking in a city at night", "a bowl of fruit",
    "a kitten on a sofa", "a man riding a horse", "two remotes and two cats",
]


def build_blip_itm_base(folder: Path) -> None:
    """Random BlipForImageTextRetrieval with blip-itm-base-coco's config, plus its processor."""
    import torch
    from transformers import BlipConfig, BlipForImageTextRetrieval, BlipImageProcessorPil, BlipProcessor

    from tests.fixtures.tokenizers import bert_uncased_tokenizer

    torch.manual_seed(0)
    config = BlipConfig(
        text_config={"vocab_size": 30524, "bos_token_id": 30522, "sep_token_id": 102, "pad_token_id": 0},
        vision_config={"image_size": 384, "patch_size": 16},
        projection_dim=256, image_text_hidden_size=256,
    )
    BlipForImageTextRetrieval(config).save_pretrained(folder)
    tokenizer = bert_uncased_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_tokens(["[ENC]"], special_tokens=True)
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 384, "width": 384}), tokenizer=tokenizer)
    processor.save_pretrained(folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from pinning import pin

    machine = pin("torch", "fp32")
    import torch
    from PIL import Image
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    import modeldeck

    texts = (TEXTS * (args.texts // len(TEXTS) + 1))[: args.texts]
    image = Image.open(Path(__file__).resolve().parents[1] / "tests/fixtures/data/coco-000000039769-cats.png").convert("RGB")
    with tempfile.TemporaryDirectory() as tmp:
        build_blip_itm_base(Path(tmp))
        processor = BlipProcessor.from_pretrained(tmp)
        model = BlipForImageTextRetrieval.from_pretrained(tmp).eval()
        runner = modeldeck.load("image-text-matching", tmp, device="cpu", runtime="torch", dtype="fp32")

        def plain():
            scores = {}
            with torch.inference_mode():
                for text in texts:  # the model card's usage, one pair at a time
                    inputs = processor(images=image, text=text, return_tensors="pt")
                    scores[text] = model(**inputs).itm_score.softmax(-1)[0, 1].item()
            return scores

        plain()
        runner({"text": texts[:2], "image": image})
        plain_times, deck_times = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            expected = plain()
            plain_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            got = runner({"text": texts, "image": image})
            deck_times.append(time.perf_counter() - start)
    diff = max(abs(r["score"] - expected[r["text"]]) for r in got)
    plain_s, deck_s = statistics.median(plain_times), statistics.median(deck_times)
    print(json.dumps({
        "bench": "image-text-matching",
        **machine,
        "texts": len(texts),
        "model_card_per_pair_s": round(plain_s, 3),
        "modeldeck_s": round(deck_s, 3),
        "speedup": round(plain_s / deck_s, 3),
        "max_abs_diff": diff,
    }))
    print(
        f"| rank {len(texts)} texts for one image (BLIP ITM base shapes, CPU) | model card per pair {plain_s:.2f} s | "
        f"modeldeck {deck_s:.2f} s | {plain_s / deck_s:.2f}x |"
    )


if __name__ == "__main__":
    main()
