"""image-text-matching: how well texts and images match (BLIP ITM), ranked.

One image against several texts, or one text against several images (image
retrieval). The score is the probability from BLIP's image-text matching head
(softmax over its no-match/match logits); on request also the cosine
similarity of the projected image and text features (BLIP's contrastive view).
The image is encoded once however many texts it is matched against.
"""

from __future__ import annotations


from ..errors import InvalidInput, about
from ..outputs.shapes import NUMBER, SCORE, STRING, array
from ..spec import Input, Param, TaskSpec, check_text
from ..task import Step
from ._vision import DOWNSCALE, VisionTask


# ranks texts for one image, or images (by file path, else position) for one text
OUTPUT_SCHEMA = array({
    "type": "object",
    "properties": {"text": STRING, "image": {"type": ["string", "integer"]}, "score": SCORE, "cosine": NUMBER},
    "required": ["score"],
    "oneOf": [{"required": ["text"]}, {"required": ["image"]}],
    "additionalProperties": False,
})


class ImageTextMatching(VisionTask):
    spec = TaskSpec(
        name="image-text-matching",
        summary="Score how well a text matches images (or an image matches texts), best match first.",
        default_model="Salesforce/blip-itm-base-coco",
        inputs=(
            Input("text", "text", help="a text (in Python also a list of texts to rank against one image)"),
            Input("image", "image", many=True, help="one image, or several to rank for the text"),
        ),
        output="labels",
        output_help='[{"text" or "image": ..., "score": match probability}], best first',
        output_schema=OUTPUT_SCHEMA,
        params=(
            Param("cosine", bool, False, "also give the cosine similarity of the projected features"),
            Param("batch_size", int, 16, "pairs scored per forward pass", min=1, limit="batch"),
            DOWNSCALE,
        ),
        aliases=("image-text-retrieval",),
        model_types=("blip",),
        modality="multimodal",
        examples=({"text": "two cats sleeping on a couch", "image": ["cats.png", "astronaut.png"]},),
    )

    def load(self) -> None:
        from transformers import AutoConfig, AutoProcessor, BlipForImageTextRetrieval

        from ..backends.transformers import load_model, load_processor

        model_type = AutoConfig.from_pretrained(self.model_path, trust_remote_code=False).model_type
        if model_type != "blip":
            raise InvalidInput(
                f"{self.model_id} is a {model_type!r} model; image-text-matching runs BLIP ITM models.",
                "Use Salesforce/blip-itm-base-coco (or -large-coco, -base-flickr), or zero-shot-image-classification for CLIP.",
            )
        self.processor = load_processor(AutoProcessor, self.model_path)
        self.model = load_model(BlipForImageTextRetrieval, self.model_path, self.device)

    @classmethod
    def check(cls, inputs, params) -> None:
        texts = inputs.get("text")
        with about("text"):
            if texts is not None and not isinstance(texts, (str, list, tuple)):
                raise InvalidInput(f"'text' must be a text or a list of texts, not {type(texts).__name__}.")
            texts = [texts] if isinstance(texts, str) else list(texts or [])
            if not texts:
                raise InvalidInput("'text' is empty: give a text to match.")
            for text in texts:
                if not isinstance(text, str) or not text.strip():
                    raise InvalidInput(f"Each text must be non-empty text, not {text!r}.")
                check_text(text, "text")
        images = {"image": inputs["image"]}
        super().check(images, params)  # several texts are allowed here, so only images go through
        inputs.update(images, text=texts)

    def validate(self, inputs, params) -> None:
        texts = inputs["text"]
        refs = inputs["image"]
        if len(texts) > 1 and len(refs) > 1:
            raise InvalidInput(
                f"Got {len(texts)} texts and {len(refs)} images: match one image against several texts, "
                "or one text against several images.",
            )
        inputs["text"] = texts
        # name images by their file path where they were given one, else by position (0-based)
        inputs["refs"] = [image.info.get("source", i) for i, image in enumerate(refs)]

    max_batch_size = 64  # pictures, or text-picture pairs, per pass (pairs in batch_size slices)

    def plan(self, inputs, params, emit=None):
        """Each picture encoded once (batched with other calls' pictures), then each (text, picture) pair
        scored by the matching head (batched with other calls' pairs)."""
        from ..cuts import tell_cuts

        texts, refs = inputs["text"], inputs["refs"]
        tell_cuts(self.processor.tokenizer, texts, self.text_limit(), "text", self.model_id)
        tokens = self.processor.tokenizer(texts, truncation=True, max_length=self.text_limit())
        pixels = self.processor.image_processor(images=inputs["image"], return_tensors="pt").pixel_values
        embeds = yield Step([("image", p) for p in pixels.split(1)])
        # one side has a single item: pair it with each item of the other side
        count = max(len(texts), len(embeds))
        pairs = [
            ("pair", {name: tokens[name][i if len(texts) > 1 else 0] for name in ("input_ids", "attention_mask")},
             embeds[i if len(embeds) > 1 else 0])
            for i in range(count)
        ]
        scored = yield Step(pairs)
        cosine = [c for _, c in scored] if params["cosine"] else None
        return self.postprocess({"scores": [m for m, _ in scored], "cosine": cosine, "texts": texts, "refs": refs})

    def batch_key(self, item):
        return item[0], tuple(item[-1].shape)

    def cost(self, item) -> int:
        return len(item[1]["input_ids"]) if item[0] == "pair" else 1

    def forward(self, batch, cosine=False, batch_size=16):
        import torch

        if batch[0][0] == "image":
            pixels = torch.cat([p for _, p in batch]).to(self.device, self.model.dtype)
            return list(self.model.vision_model(pixel_values=pixels).last_hidden_state.split(1))
        out = []
        for start in range(0, len(batch), batch_size):
            out += self.match(batch[start : start + batch_size], cosine)
        return out

    def match(self, pairs: list, cosine: bool) -> list[tuple[float, float | None]]:
        """The match probability (and cosine similarity) of each (text tokens, picture embedding) pair."""
        import torch

        from ..backends.transformers import pad_batch

        model = self.model
        tokens = {k: v.to(self.device) for k, v in pad_batch(self.processor.tokenizer, [t for _, t, _ in pairs]).items()}
        embeds = torch.cat([e for _, _, e in pairs])
        image_mask = torch.ones(embeds.shape[:-1], dtype=torch.long, device=embeds.device)
        fused = model.text_encoder(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
            encoder_hidden_states=embeds, encoder_attention_mask=image_mask,
        ).last_hidden_state
        match = model.itm_head(fused[:, 0, :]).float().softmax(-1)[:, 1].tolist()
        if not cosine:
            return [(m, None) for m in match]
        text_only = model.text_encoder(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state
        image_feat = torch.nn.functional.normalize(model.vision_proj(embeds[:, 0, :]).float(), dim=-1)
        text_feat = torch.nn.functional.normalize(model.text_proj(text_only[:, 0, :]).float(), dim=-1)
        return list(zip(match, (image_feat * text_feat).sum(-1).tolist()))

    def postprocess(self, out, **_) -> list[dict]:
        by_image = len(out["texts"]) == 1 and len(out["refs"]) > 1
        keys = out["refs"] if by_image else out["texts"]
        rows = []
        for i, score in enumerate(out["scores"]):
            row = {"image" if by_image else "text": keys[i], "score": float(score)}
            if out["cosine"] is not None:
                row["cosine"] = float(out["cosine"][i])
            rows.append(row)
        return sorted(rows, key=lambda r: -r["score"])


TASK = ImageTextMatching
