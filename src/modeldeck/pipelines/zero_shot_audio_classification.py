"""zero-shot-audio-classification: which of your labels a sound is (CLAP), as probabilities.

Each label becomes a sentence ("This is a sound of {label}."), CLAP embeds the
sentences and the audio in one space, and a softmax over the scaled cosine
similarities gives probabilities that sum to 1. CLAP hears 10 s at a time:
a longer clip is cut into 10 s windows whose audio embeddings are averaged,
so the whole clip counts and the answer does not depend on a random crop.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..spec import Input, Param, TaskSpec
from ..task import Task


WINDOWS_PER_PASS = 8


class ZeroShotAudioClassification(Task):
    spec = TaskSpec(
        name="zero-shot-audio-classification",
        summary="Score an audio clip against labels you choose (CLAP), no training needed.",
        default_model="laion/clap-htsat-unfused",
        inputs=(Input("audio", "audio", help="an audio file (wav, flac, mp3, ogg...), its bytes, or (array, sampling_rate)"),),
        output="labels",
        output_help="your labels with probabilities summing to 1, best first",
        params=(
            Param(
                "candidate_labels", str, None, "the labels to choose from (comma-separated or repeated)", many=True,
                stage="preprocess",
            ),
            Param(
                "hypothesis_template", str, "This is a sound of {}.", "the sentence each label is put into",
                stage="preprocess",
            ),
        ),
        aliases=("audio-zero-shot-classification",),
        model_types=("clap",),
        modality="audio",
        examples=({"audio": "sound.wav", "candidate_labels": ["speech", "dog barking", "music"]},),
    )

    def load(self) -> None:
        from transformers import ClapModel, ClapProcessor

        from ..backends.transformers import load_model, load_processor

        self.processor = load_processor(ClapProcessor, self.model_path)
        self.model = load_model(ClapModel, self.model_path, self.device)

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        labels = params.get("candidate_labels")
        if isinstance(labels, str):
            labels = [part.strip() for part in labels.split(",")]
        if not labels:
            raise InvalidInput(
                "zero-shot-audio-classification needs candidate labels to choose from.",
                "Pass candidate_labels=['speech', 'music'] (CLI: --candidate-labels speech,music).",
            )
        cleaned = []
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise InvalidInput(f"Every candidate label must be non-empty text; got {label!r}.")
            if label.strip() not in cleaned:
                cleaned.append(label.strip())
        params["candidate_labels"] = cleaned
        template = params.get("hypothesis_template")
        if not isinstance(template, str) or "{}" not in template:
            raise InvalidInput(
                f"hypothesis_template must contain '{{}}' where the label goes; got {template!r}.",
                "For example: 'This is a sound of {}.'",
            )

    def preprocess(self, inputs, candidate_labels=(), hypothesis_template="This is a sound of {}.", **_):
        from ..media.audio import load_audio

        extractor = self.processor.feature_extractor
        audio, rate = load_audio(inputs["audio"], extractor.sampling_rate)
        window = int(extractor.nb_max_samples)
        windows = [audio[start : start + window] for start in range(0, len(audio), window)]
        if len(windows) > 1 and len(windows[-1]) < rate:  # a last scrap under 1 s adds noise, not signal
            windows.pop()
        features = extractor(windows, sampling_rate=rate, return_tensors="pt")
        texts = [hypothesis_template.replace("{}", label, 1) for label in candidate_labels]
        from ..cuts import tell_cuts

        tokenizer = self.processor.tokenizer
        limit = min(tokenizer.model_max_length, getattr(self.model.config.text_config, "max_position_embeddings", 10**6) - 2)
        tell_cuts(tokenizer, texts, limit, "label sentence", self.model_id)
        tokens = tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")
        return features, tokens

    def forward(self, batch):
        return [self.classify(features.to(self.device), tokens.to(self.device)) for features, tokens in batch]

    def classify(self, features, tokens):
        """Label probabilities for one clip's windows (features) and the label sentences (tokens)."""
        import torch
        import torch.nn.functional as F

        count = next(iter(features.values())).shape[0]
        # A few windows per pass, so an hour of audio does not need an hour's activations at once.
        audio = torch.cat([
            self.model.get_audio_features(**{k: v[start : start + WINDOWS_PER_PASS] for k, v in features.items()}).pooler_output
            for start in range(0, count, WINDOWS_PER_PASS)
        ])  # unit vectors, one per window
        audio = F.normalize(audio.mean(dim=0, keepdim=True), dim=-1)
        text = self.model.get_text_features(**tokens).pooler_output
        logits = audio @ text.T * self.model.logit_scale_a.exp()
        return logits[0].float().softmax(-1).cpu()

    def postprocess(self, probs, candidate_labels=(), **_) -> list[dict]:
        scored = [{"label": label, "score": float(p)} for label, p in zip(candidate_labels, probs)]
        return sorted(scored, key=lambda r: -r["score"])


TASK = ZeroShotAudioClassification
