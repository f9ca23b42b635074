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
from ..task import Parts, Task




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

    max_batch_size = 8  # windows (or label sentences) per pass, from any calls: an hour of audio never
    # needs an hour's activations at once

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
                "Pass candidate_labels=['speech', 'music'] (CLI: --candidate-labels speech,music).", param='candidate_labels')
        cleaned = []
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise InvalidInput(f"Every candidate label must be non-empty text; got {label!r}.", param='candidate_labels')
            if label.strip() not in cleaned:
                cleaned.append(label.strip())
        params["candidate_labels"] = cleaned
        template = params.get("hypothesis_template")
        if not isinstance(template, str) or "{}" not in template:
            raise InvalidInput(
                f"hypothesis_template must contain '{{}}' where the label goes; got {template!r}.",
                "For example: 'This is a sound of {}.'", param='hypothesis_template')

    def preprocess(self, inputs, candidate_labels=(), hypothesis_template="This is a sound of {}.", **_) -> Parts:
        """The clip's 10 s windows and the label sentences, each a part of its own."""
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
        tokens = tokenizer(texts, truncation=True, max_length=limit)
        parts = Parts(("audio", {k: v[i : i + 1] for k, v in features.items()}) for i in range(len(windows)))
        parts += [("text", {k: tokens[k][i] for k in ("input_ids", "attention_mask")}) for i in range(len(texts))]
        return parts

    def batch_key(self, part):
        return part[0]

    def cost(self, part) -> int:
        return len(part[1]["input_ids"]) if part[0] == "text" else 1

    def forward(self, batch):
        """Unit vectors: one per audio window (CLAP hears 10 s at a time) or per label sentence."""
        import torch

        from ..backends.transformers import pad_batch

        if batch[0][0] == "audio":
            features = {k: torch.cat([f[k] for _, f in batch]).to(self.device) for k in batch[0][1]}
            vectors = self.model.get_audio_features(**features).pooler_output
        else:
            tokens = pad_batch(self.processor.tokenizer, [t for _, t in batch])
            vectors = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()}).pooler_output
        return list(vectors.float().cpu())

    def postprocess(self, vectors, candidate_labels=(), **_) -> list[dict]:
        """A softmax over the scaled cosine similarities of the clip (its windows averaged) and each label."""
        import torch
        import torch.nn.functional as F

        count = len(candidate_labels)
        audio = F.normalize(torch.stack(vectors[: len(vectors) - count]).mean(dim=0, keepdim=True), dim=-1)
        text = torch.stack(vectors[len(vectors) - count :])
        logits = audio @ text.T * self.model.logit_scale_a.exp().float().cpu()
        probs = logits[0].softmax(-1)
        scored = [{"label": label, "score": float(p)} for label, p in zip(candidate_labels, probs)]
        return sorted(scored, key=lambda r: -r["score"])


TASK = ZeroShotAudioClassification
