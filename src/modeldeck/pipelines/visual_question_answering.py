"""visual-question-answering: answer a question about an image (BLIP VQA).

transformers 5 removed this pipeline; this runs BlipProcessor + BlipForQuestionAnswering
the way the model card shows (processor -> generate -> decode), and also scores the answer.
"""

from __future__ import annotations

from ..errors import InvalidInput
from ..generation import check_decoding, check_room
from ..outputs.shapes import SCORE, STRING, array, obj
from ..spec import Input, Param, TaskSpec
from ._vision import DOWNSCALE, VisionTask


class VisualQuestionAnswering(VisionTask):
    spec = TaskSpec(
        name="visual-question-answering",
        summary="Answer a question about an image.",
        default_model="Salesforce/blip-vqa-base",
        inputs=(
            Input("image", "image", help="an image: file path, bytes, base64 or PIL image"),
            Input("question", "text", help="a question about the image"),
        ),
        output="answer",
        output_help='[{"answer": text, "score": probability of that answer}]',
        output_schema=array(obj({"answer": STRING, "score": SCORE})),
        params=(
            Param("max_new_tokens", int, 20, "longest answer in tokens", min=1, limit="new_tokens"),
            Param("num_beams", int, None, "beam search width [default: the model's own setting]", min=1, limit="beams"),
            DOWNSCALE,
        ),
        aliases=("vqa",),
        model_types=("blip",),
        modality="multimodal",
        examples=({"image": "cats.png", "question": "how many cats are there?"},),
    )

    max_batch_size = 1  # an answer's score reads generate()'s per-step scores of its own row and beams

    def load(self) -> None:
        from transformers import AutoConfig, AutoProcessor, BlipForQuestionAnswering

        from ..backends.transformers import load_model, load_processor

        model_type = AutoConfig.from_pretrained(self.model_path, trust_remote_code=False).model_type
        if model_type != "blip":
            raise InvalidInput(
                f"{self.model_id} is a {model_type!r} model; visual-question-answering runs BLIP VQA models.",
                "Use Salesforce/blip-vqa-base or Salesforce/blip-vqa-capfilt-large.",
            )
        self.processor = load_processor(AutoProcessor, self.model_path)
        self.model = load_model(BlipForQuestionAnswering, self.model_path, self.device)

    def validate(self, inputs, params) -> None:
        check_decoding(params)
        check_room(params, "max_new_tokens", self.text_limit() - 1, self.model_id)
        super().validate(inputs, params)

    def preprocess(self, inputs, **_):
        from ..cuts import tell_cuts

        tell_cuts(self.processor.tokenizer, inputs["question"], self.text_limit(), "question", self.model_id)
        encoded = self.processor(
            images=inputs["image"], text=inputs["question"], truncation=True, max_length=self.text_limit(), return_tensors="pt"
        )
        return encoded

    def forward(self, batch, max_new_tokens=None, num_beams=None):
        (encoded,) = batch
        options = {"output_scores": True, "return_dict_in_generate": True}
        if max_new_tokens is not None:
            options["max_new_tokens"] = max_new_tokens
        if num_beams is not None:
            options["num_beams"] = num_beams
        return [self.model.generate(**self.on_device(encoded), **options)]

    def postprocess(self, generated, **_) -> list[dict]:
        """The answer, scored as the probability the model gives it: the product of each generated
        token's probability (softmax of that step's scores), the end token included."""
        decoder = self.model.text_decoder
        beams = getattr(generated, "beam_indices", None)
        # greedy/sampling scores are raw logits (normalise them); beam search's are log-probabilities already
        steps = decoder.compute_transition_scores(
            generated.sequences, generated.scores, beams, normalize_logits=beams is None
        )
        sequence = generated.sequences[0]
        new_tokens = sequence[sequence.shape[0] - steps.shape[1] :]
        log_prob = 0.0
        for token, step in zip(new_tokens.tolist(), steps[0].float().tolist()):
            if token == self.model.config.text_config.pad_token_id:
                break  # padding after the end of a shorter beam
            log_prob += step
            if token == self.model.config.text_config.sep_token_id:
                break
        answer = self.processor.decode(sequence, skip_special_tokens=True).strip()
        import math

        return [{"answer": answer, "score": math.exp(log_prob)}]


TASK = VisualQuestionAnswering
