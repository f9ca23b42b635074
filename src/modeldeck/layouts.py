"""The files each backend reads from a model folder, so a missing one is named before loading.

``integrity.verify`` checks that the files present are whole; this module says which files must be
present at all, per layout:

- transformers: ``config.json`` (an object), weights (``model.safetensors``, an index and its shards,
  or a pickle ``.bin``), the tokenizer's files for models that read text, the image or audio
  processor's config for models that see pictures or hear sound;
- diffusers: ``model_index.json`` and, for each component it lists, that component's config and weights
  (schedulers: their config; tokenizers and feature extractors: their files);
- sentence-transformers: each module ``modules.json`` lists (the transformer as above, a Pooling or
  Dense module's config);
- CTranslate2 (faster-whisper): ``model.bin``, its vocabulary and ``tokenizer.json``;
- Piper voices: ``NAME.onnx`` beside ``NAME.onnx.json``;
- min-dalle: the encoder, decoder, detokenizer and vocabulary files of the variant.

``missing(folder, model_id)`` gives ``(file, reason)`` pairs; nothing here reads more than small
JSON files and folder listings.
"""

from __future__ import annotations

import json
from pathlib import Path

WEIGHT_NAMES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model", "model", "pytorch_model")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "source.spm", "tokenizer.model", "sentencepiece.model", "vocab.model")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "feature_extractor_config.json")
# Byte-level BPE tokenizers: without tokenizer.json, vocab.json needs merges.txt beside it.
BPE_TOKENIZERS = ("GPT2Tokenizer", "RobertaTokenizer", "BartTokenizer", "CLIPTokenizer", "BlenderbotTokenizer",
                  "WhisperTokenizer", "LongformerTokenizer", "LEDTokenizer", "CodeGenTokenizer", "OPTTokenizer")

Found = list[tuple[str, str]]


def read_json(path: Path):
    """The parsed file, or None when it is missing or not JSON (integrity.verify reports unparsable JSON)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()  # a dangling link is reported by integrity.verify itself


def _rel(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def missing(folder: Path | str, model_id: str | None = None) -> Found:
    """The files ``folder``'s loader would read that are not there (or are not what it expects)."""
    folder = Path(folder)
    found: Found = []
    layout = kind(folder)
    if layout == "diffusers":
        _diffusers(folder, found)
    elif layout == "sentence-transformers":
        _sentence_transformers(folder, found)
    elif layout == "min-dalle":
        _min_dalle(folder, model_id, found)
    elif layout == "ctranslate2":
        _ctranslate2(folder, found)
    elif layout == "transformers":
        _transformers(folder, folder, found)
    _piper(folder, found)
    return found


def kind(folder: Path | str) -> str | None:
    """The layout of ``folder``: diffusers, sentence-transformers, min-dalle, ctranslate2, transformers or piper;
    None when it has none of them (the first that fits, in that order)."""
    folder = Path(folder)
    if _exists(folder / "model_index.json"):
        return "diffusers"
    if _exists(folder / "modules.json"):
        return "sentence-transformers"
    if _is_min_dalle(folder):
        return "min-dalle"
    if _is_ctranslate2(folder):
        return "ctranslate2"
    if _looks_like_transformers(folder):
        return "transformers"
    if any(folder.rglob("*.onnx.json")) or any(folder.rglob("*.onnx")):
        return "piper"
    return None


# -- transformers ---------------------------------------------------------------------------------


def _looks_like_transformers(folder: Path) -> bool:
    names = ("config.json", "tokenizer_config.json", "generation_config.json", *WEIGHT_NAMES)
    return any(_exists(folder / n) for n in names) and not any(folder.glob("*.onnx.json"))


def _weights(part: Path, stems: tuple[str, ...] = ("model", "pytorch_model")) -> bool:
    """Whether ``part`` has weights a loader takes (any variant: .fp16, sharded, an index)."""
    for path in part.iterdir():
        name = path.name
        if name.endswith((".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")) and \
                name.split(".")[0].split("-0")[0] in stems:
            return True
    return False


def _transformers(root: Path, part: Path, found: Found, need_text: bool | None = None) -> None:
    """A transformers model in ``part`` (a folder inside ``root``): config, weights, tokenizer, processor."""
    config_path = part / "config.json"
    if not _exists(config_path):
        found.append((_rel(root, config_path), "missing: the model's configuration"))
        return
    config = read_json(config_path)
    if config is None:
        return  # unparsable: integrity.verify names it
    if not isinstance(config, dict):
        found.append((_rel(root, config_path), f"not a JSON object (a {type(config).__name__})"))
        return
    if not _weights(part):
        found.append((_rel(root, part / "model.safetensors"), "missing: the model has no weights file"))
    if need_text is None:
        need_text = reads_text(config)
    if need_text:
        _tokenizer(root, part, found)
    if sees_or_hears(config) and not any(_exists(part / n) for n in PROCESSOR_FILES):
        found.append((_rel(root, part / "preprocessor_config.json"),
                      "missing: the processor that prepares its pictures or sound"))


def _sub(config: dict, *names: str) -> list[dict]:
    return [config[n] for n in names if isinstance(config.get(n), dict)]


def reads_text(config: dict) -> bool:
    """Whether the model has a vocabulary: it reads (or writes) text."""
    parts = [config, *_sub(config, "text_config", "decoder")]
    return any("vocab_size" in p for p in parts)


def sees_or_hears(config: dict) -> bool:
    """Whether the model takes pictures or sound."""
    keys = ("image_size", "num_channels", "vision_config", "audio_config", "num_mel_bins", "backbone_config")
    return any(k in p for p in [config, *_sub(config, "encoder")] for k in keys)


def _tokenizer(root: Path, part: Path, found: Found) -> None:
    files = [n for n in TOKENIZER_FILES if _exists(part / n)] + [p.name for p in part.glob("*.model")]
    if not files:
        found.append((_rel(root, part / "tokenizer.json"), "missing: the tokenizer's vocabulary"))
        return
    settings = read_json(part / "tokenizer_config.json")
    kind = str(settings.get("tokenizer_class") or "") if isinstance(settings, dict) else ""
    if (kind.removesuffix("Fast") in BPE_TOKENIZERS and not _exists(part / "tokenizer.json")
            and _exists(part / "vocab.json") and not _exists(part / "merges.txt")):
        found.append((_rel(root, part / "merges.txt"), "missing: the tokenizer's merges (beside vocab.json)"))


# -- diffusers ------------------------------------------------------------------------------------


def _diffusers(folder: Path, found: Found) -> None:
    index = read_json(folder / "model_index.json")
    if index is None:
        return
    if not isinstance(index, dict):
        found.append(("model_index.json", f"not a JSON object (a {type(index).__name__})"))
        return
    for name, value in sorted(index.items()):
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2 or None in value:
            continue
        part, kind = folder / name, str(value[1])
        if not part.is_dir():
            found.append((name + "/", f"missing: the pipeline's {name} ({kind})"))
        elif kind.endswith("Scheduler") or "Scheduler" in kind:
            if not _exists(part / "scheduler_config.json"):
                found.append((f"{name}/scheduler_config.json", "missing: the scheduler's settings"))
        elif "Tokenizer" in kind:
            _tokenizer(folder, part, found)
        elif kind.endswith(("ImageProcessor", "ImageProcessorPil", "FeatureExtractor", "Processor")):
            if not any(_exists(part / n) for n in PROCESSOR_FILES):
                found.append((f"{name}/preprocessor_config.json", "missing: the feature extractor's settings"))
        else:
            config = part / "config.json"
            if not _exists(config):
                found.append((f"{name}/config.json", f"missing: the {name}'s configuration"))
            elif read_json(config) is not None and not isinstance(read_json(config), dict):
                found.append((f"{name}/config.json", "not a JSON object"))
            if not _weights(part, DIFFUSERS_WEIGHTS):
                stem = "diffusion_pytorch_model" if value[0] == "diffusers" else "model"
                found.append((f"{name}/{stem}.safetensors", f"missing: the {name}'s weights"))


# -- sentence-transformers ------------------------------------------------------------------------


def _sentence_transformers(folder: Path, found: Found) -> None:
    modules = read_json(folder / "modules.json")
    if modules is None:
        return
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        found.append(("modules.json", "not a list of modules"))
        return
    for module in modules:
        part = folder / str(module.get("path") or "")
        kind = str(module.get("type") or "").rsplit(".", 1)[-1]
        if kind not in ("Transformer", "Pooling", "Dense"):
            continue  # Normalize and the like read no files
        if not part.is_dir():
            found.append((_rel(folder, part) + "/", f"missing: the {kind or 'module'} module's folder"))
        elif kind == "Transformer":
            _transformers(folder, part, found, need_text=True)
        elif kind in ("Pooling", "Dense") and not _exists(part / "config.json"):
            found.append((_rel(folder, part / "config.json"), f"missing: the {kind} module's settings"))
        elif kind == "Dense" and not any(_exists(part / n) for n in ("model.safetensors", "pytorch_model.bin")):
            found.append((_rel(folder, part / "model.safetensors"), "missing: the Dense module's weights"))


# -- CTranslate2, Piper, min-dalle ----------------------------------------------------------------


def _is_ctranslate2(folder: Path) -> bool:
    config = read_json(folder / "config.json")
    hf = isinstance(config, dict) and ("model_type" in config or "architectures" in config)
    return not hf and (_exists(folder / "model.bin") or any(folder.glob("vocabulary.*")))


def _ctranslate2(folder: Path, found: Found) -> None:
    if not _exists(folder / "model.bin"):
        found.append(("model.bin", "missing: the CTranslate2 model's weights"))
    if not any(folder.glob("vocabulary.*")):
        found.append(("vocabulary.txt", "missing: the CTranslate2 model's vocabulary"))
    if not _exists(folder / "tokenizer.json"):
        found.append(("tokenizer.json", "missing: the tokenizer faster-whisper reads (it would fetch one from the hub)"))


def _piper(folder: Path, found: Found) -> None:
    if _exists(folder / "config.json") or _exists(folder / "model_index.json"):
        return  # a transformers or diffusers folder, not voices
    for onnx in sorted(folder.rglob("*.onnx")):
        if not _exists(onnx.with_name(onnx.name + ".json")):
            found.append((_rel(folder, onnx) + ".json", "missing: the voice's settings (Piper reads them beside the .onnx)"))
    for settings in sorted(folder.rglob("*.onnx.json")):
        data = read_json(settings)
        if data is not None and not isinstance(data, dict):
            found.append((_rel(folder, settings), "not a JSON object"))


def _is_min_dalle(folder: Path) -> bool:
    return any(_exists(folder / n) for n in ("detoker.pt", "encoder_mini.pt", "encoder.pt", "vocab_mini.json"))


def _min_dalle(folder: Path, model_id: str | None, found: Found) -> None:
    from .refs import REPO_ALIASES

    variants = {m: files for m, (repo, files) in REPO_ALIASES.items() if repo == "kuprel/min-dalle"}
    if model_id in variants:
        wanted = [variants[model_id]]
    else:  # the repo itself: each variant partly there must be whole; with none, the mini one
        wanted = [f for f in variants.values() if any(_exists(folder / n) for n in f if n not in ("config.json", "detoker.pt"))]
        wanted = wanted or [variants["dalle-mini/dalle-mini"]]
    for files in wanted:
        for name in files:
            if not _exists(folder / name) and (name, "missing: a file of the min-dalle model") not in found:
                found.append((name, "missing: a file of the min-dalle model"))


# -- graphs modeldeck stored (runtimes.py) ---------------------------------------------------------


def graph_missing(folder: Path | str) -> Found:
    """What is missing or empty in a stored ONNX or CTranslate2 graph (meta.json marks an ONNX one)."""
    folder = Path(folder)
    found: Found = []

    def need(name: str, what: str) -> None:
        path = folder / name
        if not path.is_file():
            found.append((name, f"missing: {what}"))
        elif path.stat().st_size == 0:
            found.append((name, f"empty: {what}"))

    if _exists(folder / "meta.json"):
        meta = read_json(folder / "meta.json")
        if not (isinstance(meta, dict) and {"inputs", "outputs", "precision"} <= set(meta)):
            found.append(("meta.json", "not the graph's description (inputs, outputs, precision)"))
        need("model.onnx", "the ONNX graph")
    else:
        need("model.bin", "the CTranslate2 weights")
        need("config.json", "the CTranslate2 settings")
        if not any(folder.glob("vocabulary*")) and not any(folder.glob("shared_vocabulary*")):
            found.append(("vocabulary.json", "missing: the CTranslate2 vocabulary"))
    return found
