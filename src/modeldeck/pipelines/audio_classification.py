"""audio-classification: what a sound clip is, as the model's labels with scores (AST on AudioSet by default).

The feature extractor and ``AutoModelForAudioClassification`` as the model cards show, with the clip
decoded, down-mixed and resampled by modeldeck (no torchaudio). AST hears 10.24 s at a time: a longer
clip is cut into windows, each a part batched with other calls' windows, and the windows' scores are
averaged, so the whole clip counts (transformers' pipeline keeps only the first window).
"""

from __future__ import annotations

from ..spec import Input, TaskSpec
from ..task import Parts, Task
from ._classify import FUNCTION, TOP_K, ranked, scores


class AudioClassification(Task):
    spec = TaskSpec(
        name="audio-classification",
        summary="Say what a sound clip is (speech, music, a dog barking...): the model's labels with scores.",
        default_model="MIT/ast-finetuned-audioset-10-10-0.4593",
        inputs=(Input("audio", "audio", help="an audio file (wav, flac, mp3, ogg...), its bytes, or (array, sampling_rate)"),),
        output="labels",
        output_help="the top labels with scores, best first (a long clip's windows averaged)",
        params=(TOP_K, FUNCTION),
        modality="audio",
        examples=({"audio": "jfk.wav", "top_k": 3},),
    )
    max_batch_size = 8  # windows per pass, from any calls

    def load(self) -> None:
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        from ..backends.transformers import load_model, load_processor

        import warnings

        with warnings.catch_warnings():  # AST's own 128 mel bins over 257 frequency bins leave one empty: a
            warnings.filterwarnings("ignore", message="At least one mel filter")  # fact of the model, not news
            self.extractor = load_processor(AutoFeatureExtractor, self.model_path)
        self.model = load_model(AutoModelForAudioClassification, self.model_path, self.device)

    def window(self) -> tuple[int, int]:
        """(samples a window reads, samples between window starts): the frames the model takes at once,
        framed as its extractor frames them (25 ms frames every 10 ms, as Kaldi's filter banks)."""
        rate = self.extractor.sampling_rate
        frames = getattr(self.extractor, "max_length", None)
        if not frames:  # extractors without a fixed length read the clip whole
            return 0, 0
        hop = rate // 100
        return hop * (frames - 1) + rate // 40, hop * frames

    def preprocess(self, inputs, **_) -> Parts:
        from ..media.audio import load_audio

        rate = self.extractor.sampling_rate
        audio, _ = load_audio(inputs["audio"], rate)
        length, step = self.window()
        starts = range(0, len(audio), step) if length else [0]
        windows = [audio[s : s + length] if length else audio for s in starts]
        if len(windows) > 1 and len(windows[-1]) < rate:  # a last scrap under 1 s adds noise, not signal
            windows.pop()
        return Parts(self.extractor(w, sampling_rate=rate, return_tensors="pt") for w in windows)

    def batch_key(self, features):
        return tuple((name, tuple(value.shape)) for name, value in features.items())

    def forward(self, batch):
        import torch

        features = {name: torch.cat([f[name] for f in batch]).to(self.device) for name in batch[0]}
        if "input_values" in features:
            features["input_values"] = features["input_values"].to(self.model.dtype)
        return list(self.model(**features).logits.float().cpu())

    def postprocess(self, logits, top_k=5, function_to_apply=None, **_) -> list[dict]:
        import torch

        config = self.model.config
        mean = torch.stack([scores(row, config, function_to_apply) for row in logits]).mean(0)
        return ranked(mean, config, top_k)


TASK = AudioClassification
