"""DALL·E Mini / Mega in PyTorch, through the model classes of the min-dalle port (PyPI ``min-dalle``).

Only min-dalle's model classes are used, never its ``MinDalle`` class: that one
calls the network on every construction and downloads with ``requests``. The
weights come from the Hugging Face cache like every other model (repo
kuprel/min-dalle: ``dalle-mini/dalle-mini`` runs its ``*_mini`` files,
``dalle-mini/dalle-mega`` the plain ones; see ``refs.REPO_ALIASES``), read
with ``torch.load(weights_only=True)``: tensors, never code.

Importing ``min_dalle`` (even ``min_dalle.models``) runs its package
``__init__``, which turns gradients off process-wide, sets torch's thread
count to every core and flips cuDNN flags. modeldeck never runs it: the model
files are loaded as a package of their own (``dalle_modules``), and the
process-wide settings are checked unchanged afterwards.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from functools import cache
from pathlib import Path

from ..errors import InvalidInput, ModelNotAvailable

IMAGE_TOKENS = 256  # 16 x 16 VQGAN codes per image
IMAGE_SIZE = 256
HEAD_SIZE = 64  # every min-dalle model has 64-wide attention heads (mini: 1024 / 16, mega: 2048 / 32)
_import_lock = threading.Lock()


def _global_settings():
    import torch

    return (
        torch.get_num_threads(), torch.is_grad_enabled(),
        torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32,
    )


def _restore(saved) -> None:
    import torch

    threads, grad, cudnn, tf32 = saved
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.set_grad_enabled(grad)
    torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32 = cudnn, tf32


@cache
def dalle_modules():
    """(min-dalle's ``models`` package, its ``text_tokenizer`` module), loaded without min_dalle/__init__.py."""
    spec = importlib.util.find_spec("min_dalle")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            "DALL·E Mini needs the min-dalle package.", "Install it: pip install 'modeldeck[diffusion]'"
        )
    root = Path(list(spec.submodule_search_locations)[0])
    with _import_lock:
        saved = _global_settings()
        try:
            models = _load_package("modeldeck_min_dalle_models", root / "models")
            tokenizer = _load_file("modeldeck_min_dalle_text_tokenizer", root / "text_tokenizer.py")
        finally:
            _restore(saved)  # in case a future min-dalle sets them in the model files too
    return models, tokenizer


def _load_package(name: str, folder: Path):
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- which files ---------------------------------------------------------------------------------

VARIANTS = {"dalle-mini/dalle-mini": "_mini", "dalle-mini/dalle-mega": ""}


def is_min_dalle(folder: Path) -> bool:
    return (Path(folder) / "detoker.pt").is_file()


def variant_suffix(folder: Path, model_id: str) -> str:
    """'_mini' or '' (mega): by the id; for kuprel/min-dalle itself, mega when its files are there (as
    min-dalle's own default), else mini."""
    if model_id in VARIANTS:
        return VARIANTS[model_id]
    return "" if (Path(folder) / "decoder.pt").is_file() else "_mini"


def variant_files(suffix: str) -> list[str]:
    return [f"encoder{suffix}.pt", f"decoder{suffix}.pt", f"vocab{suffix}.json", f"merges{suffix}.txt", "detoker.pt"]


def predict_bytes(folder: Path, model_id: str, dtype_bytes: int) -> int:
    """Resident bytes of one variant (the .pt files hold fp32 tensors; float parts convert to the load dtype,
    the detokenizer stays fp32)."""
    suffix = variant_suffix(folder, model_id)
    total = 0
    for name in variant_files(suffix):
        path = Path(folder) / name
        if path.suffix == ".pt" and path.is_file():
            size = path.stat().st_size
            total += size if name == "detoker.pt" else size * dtype_bytes // 4
    return total


# -- the model -------------------------------------------------------------------------------------


class MinDalleModel:
    """Text encoder, image-token decoder and VQGAN detokenizer of one min-dalle variant."""

    def __init__(self, folder: Path, model_id: str, device: str):
        import torch

        self.folder, self.device = Path(folder), device
        self.suffix = variant_suffix(folder, model_id)
        missing = [n for n in variant_files(self.suffix) if not (self.folder / n).is_file()]
        if missing:
            raise ModelNotAvailable(
                f"{model_id} is missing {', '.join(missing)} in {self.folder}.",
                f"While online, run: modeldeck pull {model_id}",
            )
        models, tokenizer = dalle_modules()
        # fp16 on a GPU for the transformer parts (as min-dalle's own dtype option); the VQGAN stays fp32
        self.dtype = torch.float16 if device.startswith("cuda") else torch.float32
        vocab = json.loads((self.folder / f"vocab{self.suffix}.json").read_text(encoding="utf-8"))
        merges = (self.folder / f"merges{self.suffix}.txt").read_text(encoding="utf-8").split("\n")[1:-1]
        self.tokenizer = tokenizer.TextTokenizer(vocab, merges)

        encoder = self._weights(f"encoder{self.suffix}.pt")
        decoder = self._weights(f"decoder{self.suffix}.pt")
        embed = encoder["embed_tokens.weight"].shape[1]
        self.layers = 1 + max(int(k.split(".")[1]) for k in decoder if k.startswith("layers."))
        self.embed = embed
        self.text_tokens = encoder["embed_positions.weight"].shape[0]
        sizes = dict(embed_count=embed, attention_head_count=max(1, embed // HEAD_SIZE),
                     glu_embed_count=encoder["layers.0.glu.fc0.weight"].shape[0], layer_count=self.layers)
        self.encoder = self._build(
            models.DalleBartEncoder, encoder, text_vocab_count=encoder["embed_tokens.weight"].shape[0],
            text_token_count=self.text_tokens, **sizes,
        )
        self.image_vocab = decoder["embed_tokens.weight"].shape[0] - 1
        if self.image_vocab < 2**14:
            raise InvalidInput(f"{model_id}'s decoder has {self.image_vocab} image tokens; the VQGAN needs 16384.")
        self.decoder = self._build(models.DalleBartDecoder, decoder, image_vocab_count=self.image_vocab, **sizes)
        with torch.device("meta"):
            detokenizer = models.VQGanDetokenizer()
        detokenizer.load_state_dict(self._weights("detoker.pt"), assign=True)
        self.detokenizer = detokenizer.to(device).eval()

    def _weights(self, name: str) -> dict:
        import torch

        try:
            return torch.load(self.folder / name, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # an old-format (non-zip) file cannot be memory-mapped
            return torch.load(self.folder / name, map_location="cpu", weights_only=True)

    def _build(self, cls, state: dict, **sizes):
        import torch

        # built on the meta device (no random init of weights about to be replaced); the position
        # tensors min-dalle keeps as plain attributes are made on the real device by its constructor
        with torch.device("meta"):
            module = cls(device="meta", **sizes)
        module.load_state_dict(state, strict=False, assign=True)
        for owner in [module, *module.modules()]:
            for attr in ("pose_tokens", "token_indices"):
                value = getattr(owner, attr, None)
                if isinstance(value, torch.Tensor) and value.is_meta:
                    setattr(owner, attr, torch.arange(value.shape[-1], device=self.device).expand(value.shape).clone())
        return module.to(self.device, self.dtype).eval()

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.tokenize(text)

    def generate(self, tokens: list[int], grid_size: int, temperature: float, top_k: int,
                 supercondition_factor: float, step=None):
        """A (grid*256, grid*256, 3) uint8 tensor: grid_size**2 images, as min-dalle's generate_raw_image_stream
        makes them (its sampling draws from torch's global generator: the caller seeds it)."""
        import torch

        count = grid_size**2
        tokens = tokens[: self.text_tokens]
        text = torch.ones((2, self.text_tokens), dtype=torch.long)
        text[0, :2] = torch.tensor([tokens[0], tokens[-1]])  # the unconditioned row, for supercondition
        text[1, : len(tokens)] = torch.tensor(tokens)
        text = text.to(self.device)
        encoder_state = self.encoder(text)
        rows = [0] * count + [1] * count
        text, encoder_state = text[rows], encoder_state[rows]
        mask = text.not_equal(1)[:, None, None, :]
        attention_state = torch.zeros(
            (self.layers, count * 4, IMAGE_TOKENS, self.embed), device=self.device, dtype=self.dtype
        )
        image_tokens = torch.full((count, IMAGE_TOKENS + 1), 2**14 - 1, dtype=torch.long, device=self.device)
        indices = torch.arange(IMAGE_TOKENS, device=self.device)
        settings = torch.tensor([temperature, top_k, supercondition_factor], dtype=torch.float32, device=self.device)
        for i in range(IMAGE_TOKENS):
            image_tokens[:, i + 1], attention_state = self.decoder.sample_tokens(
                settings=settings, attention_mask=mask, encoder_state=encoder_state,
                attention_state=attention_state, prev_tokens=image_tokens[:, [i]], token_index=indices[[i]],
            )
            if step is not None:
                step(i + 1, IMAGE_TOKENS)
        grid = self.detokenizer(False, image_tokens[:, 1:])
        return grid.to(torch.uint8).cpu()

    def images(self, grid, grid_size: int) -> list:
        """The grid as separate PIL images, row by row."""
        from PIL import Image

        pictures = grid.view(grid_size * IMAGE_SIZE, grid_size, IMAGE_SIZE, 3).transpose(1, 0)
        pictures = pictures.reshape(grid_size**2, IMAGE_SIZE, IMAGE_SIZE, 3)
        return [Image.fromarray(p.numpy()) for p in pictures]
