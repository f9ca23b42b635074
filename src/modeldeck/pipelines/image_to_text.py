"""image-to-text: a caption for an image, free or continuing a text you start (BLIP, ViT-GPT2).

transformers 5 removed the image-to-text pipeline; this runs the processor and
the model the way the model cards show (processor -> generate -> decode).
"""

from __future__ import annotations

from .. import generation as gen
from ..outputs.shapes import STRING, array, obj
from ..spec import Input, Param, TaskSpec
from ..task import Streaming
from ._vision import DOWNSCALE, VisionTask, stack, tensor_shapes

# Captioning architectures: BLIP, any vision encoder + text decoder pair, and image-text-to-text models.
CAPTION_MODELS = (
    "blip", "vision-encoder-decoder", "blip-2", "git", "pix2struct", "kosmos-2", "instructblip", "llava",
    "llava_next", "idefics", "idefics2", "idefics3", "paligemma", "florence2", "smolvlm", "qwen2_vl", "qwen2_5_vl",
)


class ImageToText(Streaming, VisionTask):
    spec = TaskSpec(
        name="image-to-text",
        summary="Caption an image; give a text to have the caption continue it.",
        default_model="Salesforce/blip-image-captioning-base",
        inputs=(
            Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),
            Input("text", "text", optional=True, help="the start of the caption (conditional captioning)"),
        ),
        output="text",
        output_help='[{"generated_text": caption}]',
        output_schema={**array(obj({"generated_text": STRING})), "minItems": 1, "maxItems": 1},
        params=(
            Param("max_new_tokens", int, 30, "longest caption in tokens", min=1, limit="new_tokens"),
            Param("num_beams", int, None, "beam search width [default: the model's own setting]", min=1, limit="beams"),
            DOWNSCALE,
        ),
        aliases=("image-captioning",),
        model_types=CAPTION_MODELS,
        modality="multimodal",
        examples=({"image": "cats.png"}, {"image": "cats.png", "text": "a photography of"}),
    )

    def load(self) -> None:
        from transformers import AutoConfig

        from ..backends.transformers import load_model, load_processor

        config = AutoConfig.from_pretrained(self.model_path, trust_remote_code=False)
        self.encoder_decoder = config.model_type == "vision-encoder-decoder"
        if self.encoder_decoder:  # e.g. nlpconnect/vit-gpt2-image-captioning
            from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel

            self.image_processor = load_processor(AutoImageProcessor, self.model_path)
            self.tokenizer = load_processor(AutoTokenizer, self.model_path)
            self.model = load_model(VisionEncoderDecoderModel, self.model_path, self.device)
        else:  # BLIP and other processor + image-text-to-text models
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.processor = load_processor(AutoProcessor, self.model_path)
            self.tokenizer = self.processor.tokenizer
            if config.model_type == "blip":
                from transformers import BlipForConditionalGeneration as model_class
            else:
                model_class = AutoModelForImageTextToText
            self.model = load_model(model_class, self.model_path, self.device)

    def validate(self, inputs, params) -> None:
        gen.check_decoding(params)
        window = gen.model_window(getattr(self.model.config, "text_config", None) or getattr(self.model.config, "decoder", None)
                                  or self.model.config, self.tokenizer, default=512)
        prompt = len(self.tokenizer(inputs["text"])["input_ids"]) if inputs.get("text") else 1
        gen.check_room(params, "max_new_tokens", window - prompt, self.model_id)
        super().validate(inputs, params)

    def preprocess(self, inputs, **_):
        import torch

        image, text = inputs["image"], inputs.get("text")
        if self.encoder_decoder:
            pixel_values = self.image_processor(images=image, return_tensors="pt").pixel_values
            encoded = {"pixel_values": pixel_values}
            if text:
                start = self.model.generation_config.decoder_start_token_id
                if start is None:
                    start = self.model.config.decoder_start_token_id
                ids = self.tokenizer(text, add_special_tokens=False).input_ids
                encoded["decoder_input_ids"] = torch.tensor([[start, *ids]])
            return encoded, text
        return self.processor(images=image, text=text, return_tensors="pt"), text

    def _generate_kwargs(self, encoded, max_new_tokens=None, num_beams=None) -> dict:
        options = {name: value.to(self.device) for name, value in encoded.items()}
        options["pixel_values"] = options["pixel_values"].to(self.model.dtype)
        if max_new_tokens is not None:
            options["max_new_tokens"] = max_new_tokens
        if num_beams is not None:
            options["num_beams"] = num_beams
        return options

    max_batch_size = 8  # pictures of one size, with prompts of one length, captioned together

    def batch_key(self, item):
        return tensor_shapes(item[0])

    def forward(self, batch, **params):
        out = self.model.generate(**self._generate_kwargs(stack([encoded for encoded, _ in batch]), **params))
        return [out[i : i + 1] for i in range(len(batch))]

    def forward_stream(self, x, emit, **params):
        encoded, text = x
        started = False

        def emit_stripped(piece: str) -> None:  # the caption is stripped, so its pieces are too
            nonlocal started
            piece = piece if started else piece.lstrip()
            started = started or bool(piece)
            if piece:
                emit(piece)

        decode = lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
        prompt = encoded["decoder_input_ids" if self.encoder_decoder else "input_ids"][0].tolist() if text else []
        if prompt:
            emit_stripped(decode(prompt))
        return gen.stream_generate(self.model.generate, decode, prompt, emit_stripped, **self._generate_kwargs(encoded, **params))

    def postprocess(self, output_ids, **_) -> list[dict]:
        text = self.tokenizer.decode(output_ids[0], skip_special_tokens=True)
        return [{"generated_text": text.strip()}]


TASK = ImageToText
