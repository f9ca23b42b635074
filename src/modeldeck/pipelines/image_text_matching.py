"""image-text-matching: how well texts and images match (BLIP ITM), ranked.

One image against several texts, or one text against several images (image
retrieval). The score is the probability from BLIP's image-text matching head
(softmax over its no-match/match logits); on request also the cosine
similarity of the projected image and text features (BLIP's contrastive view).
The image is encoded once however many texts it is matched against.
"""

from __future__ import annotations


from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec, check_text
from ._vision import DOWNSCALE, VisionTask


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

    def preprocess(self, inputs, **_):
        from ..cuts import tell_cuts

        tell_cuts(self.processor.tokenizer, inputs["text"], self.text_limit(), "text", self.model_id)
        tokens = self.processor.tokenizer(
            inputs["text"], padding=True, truncation=True, max_length=self.text_limit(), return_tensors="pt"
        )
        pixels = self.processor.image_processor(images=inputs["image"], return_tensors="pt").pixel_values
        return {
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "pixel_values": pixels,
            "texts": inputs["text"],
            "refs": inputs["refs"],
        }

    def forward(self, batch, cosine=False, batch_size=16):
        return [self.match(item, cosine, batch_size) for item in batch]

    def match(self, item, cosine: bool, batch_size: int) -> dict:
        """Match scores of one item's texts against its images (one side has a single entry)."""
        import torch

        model = self.model
        pixels = item["pixel_values"].to(self.device, self.model.dtype)
        image_embeds = torch.cat([model.vision_model(pixel_values=p).last_hidden_state for p in pixels.split(batch_size)])
        ids, mask = item["input_ids"].to(self.device), item["attention_mask"].to(self.device)
        pairs = max(len(ids), len(image_embeds))
        # one side has a single item: pair it with each item of the other side
        pick_text = (lambda i: i) if len(ids) > 1 else (lambda i: 0)
        pick_image = (lambda i: i) if len(image_embeds) > 1 else (lambda i: 0)
        match, similarity = [], []
        for start in range(0, pairs, batch_size):
            index = range(start, min(pairs, start + batch_size))
            t = torch.tensor([pick_text(i) for i in index], device=ids.device)
            v = torch.tensor([pick_image(i) for i in index], device=ids.device)
            embeds = image_embeds[v]
            image_mask = torch.ones(embeds.shape[:-1], dtype=torch.long, device=embeds.device)
            fused = model.text_encoder(
                input_ids=ids[t], attention_mask=mask[t],
                encoder_hidden_states=embeds, encoder_attention_mask=image_mask,
            ).last_hidden_state
            match.append(model.itm_head(fused[:, 0, :]).float().softmax(-1)[:, 1])
            if cosine:
                text_only = model.text_encoder(input_ids=ids[t], attention_mask=mask[t]).last_hidden_state
                image_feat = torch.nn.functional.normalize(model.vision_proj(embeds[:, 0, :]).float(), dim=-1)
                text_feat = torch.nn.functional.normalize(model.text_proj(text_only[:, 0, :]).float(), dim=-1)
                similarity.append((image_feat * text_feat).sum(-1))
        return {
            "scores": torch.cat(match).tolist(),
            "cosine": torch.cat(similarity).tolist() if cosine else None,
            "texts": item["texts"],
            "refs": item["refs"],
        }

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

    @classmethod
    def render(cls, result, inputs) -> str:
        from ..render import bar

        lines = []
        for r in result:
            name = r["text"] if "text" in r else (f"image {r['image'] + 1}" if isinstance(r["image"], int) else r["image"])
            extra = f"  cosine {r['cosine']:+.3f}" if "cosine" in r else ""
            lines.append(f"{r['score']:.4f}  {bar(r['score'])}{extra}  {name}")
        return "\n".join(lines)


TASK = ImageTextMatching
