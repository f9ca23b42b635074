"""The runner every task shares: load once, then preprocess -> forward -> postprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from .errors import InvalidInput
from .spec import TaskSpec


def _image_decoder():
    from .media.image import is_file, load_image

    def decode(value, params, name):
        image = load_image(value, downscale=bool(params.get("downscale")))
        if isinstance(value, Path) or (isinstance(value, str) and is_file(value)):
            image.info["source"] = str(value)  # results can name the file (image-text-matching)
        return image

    return decode


def _audio_decoder():
    from .media.audio import decode

    # Native rate kept: each model resamples to its own rate in preprocess.
    return lambda value, params, name: decode(value, name=name)


DECODERS = {"image": _image_decoder, "audio": _audio_decoder}


class Task:
    """A loaded model for one task; call it with inputs and parameters.

    Subclasses set ``spec`` and implement ``load``, ``preprocess``,
    ``forward`` and ``postprocess``. Each of the three steps receives every
    parameter as a keyword and ignores the ones it does not use.
    """

    spec: ClassVar[TaskSpec]

    def __init__(self, model_path: Path, model_id: str, device: str = "cpu", **options: Any):
        self.model_path = Path(model_path)
        self.model_id = model_id
        self.device = device
        self.options = options
        self.load()

    def load(self) -> None:
        """Load the model and its processor from ``self.model_path``."""
        raise NotImplementedError

    def __call__(self, inputs: Any = None, /, **kwargs: Any) -> Any:
        bound, params = self.spec.bind(inputs, kwargs)
        self.check(bound, params)
        self.validate(bound, params)
        import torch

        with torch.inference_mode():
            model_inputs = self.preprocess(bound, **params)
            outputs = self.forward(model_inputs, **params)
            return self.postprocess(outputs, **params)

    @classmethod
    def check(cls, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        """Check and decode inputs before any model loads, so bad input fails fast.

        Text must be non-empty; pictures and audio are decoded here (in place),
        so a corrupt file is reported at once and never decoded twice. Safe to
        run more than once on the same inputs.
        """
        for spec in cls.spec.inputs:
            if spec.name not in inputs:
                continue
            value = inputs[spec.name]
            if spec.many and (isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple))):
                value = inputs[spec.name] = [value]
            if spec.many and not value:
                raise InvalidInput(f"{spec.name!r} is empty: give at least one.")
            if spec.kind == "text":
                for text in value if spec.many else [value]:
                    if not isinstance(text, str):
                        raise InvalidInput(f"{spec.name!r} must be text, not {type(text).__name__}.")
                    if not text.strip():
                        raise InvalidInput(f"{spec.name!r} is empty: give some text.")
            elif spec.kind in DECODERS:
                decode = DECODERS[spec.kind]()
                inputs[spec.name] = [decode(v, params, spec.name) for v in value] if spec.many else decode(value, params, spec.name)

    def validate(self, inputs: dict[str, Any], params: dict[str, Any]) -> None:
        """Checks that need the loaded model (e.g. its mask token); tasks override."""

    def preprocess(self, inputs: dict[str, Any], **params: Any) -> Any:
        return inputs

    def forward(self, model_inputs: Any, **params: Any) -> Any:
        raise NotImplementedError

    def postprocess(self, outputs: Any, **params: Any) -> Any:
        return outputs

    @classmethod
    def render(cls, result: Any, inputs: dict[str, Any]) -> str:
        """Readable text for the terminal; tasks override for their own output."""
        from .render import render

        return render(cls.spec.output, result, inputs)

    @classmethod
    def save(cls, result: Any, path: Path, inputs: dict[str, Any]) -> None:
        """Write the result to ``path``; tasks that make pictures or audio override."""
        import json

        from .jsonable import to_jsonable

        path.write_text(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False) + "\n")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name} model={self.model_id} device={self.device}>"
