"""Read images from what people have: a file path, bytes, base64 (or a data: URL), a PIL image,
a numpy array, or an open file.

Every image comes out as an RGB PIL image the right way up (EXIF orientation
applied), with transparency flattened onto white. Images over the pixel limit
(``MODELDECK_MAX_IMAGE_PIXELS``, 40 megapixels by default) are refused before
they are decoded, unless the caller asks to shrink them (``downscale=True``).
Anything that is not a readable image is an ``InvalidInput`` saying what it is
and what to give instead.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

log = logging.getLogger("modeldeck")

DEFAULT_MAX_PIXELS = 40_000_000
FORMATS_HINT = "Give a PNG, JPEG, WebP, BMP, GIF or TIFF file, its bytes, base64 text, or a PIL image."
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm", ".ico"}
_BASE64 = re.compile(r"^[A-Za-z0-9+/=_\-\s]+$")


def max_pixels() -> int:
    """The pixel limit: ``MODELDECK_MAX_IMAGE_PIXELS`` or 40 megapixels; 0 turns it off."""
    raw = os.environ.get("MODELDECK_MAX_IMAGE_PIXELS", "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        raise InvalidInput(
            f"MODELDECK_MAX_IMAGE_PIXELS={raw!r} is not a number of pixels.",
            "Set it to a whole number such as 40000000 (0 means no limit).",
        ) from None
    return max(0, value)


def describe(source: Any) -> str:
    """A short name for an image source, for messages."""
    if isinstance(source, (str, Path)):
        text = str(source)
        return repr(text if len(text) <= 60 else text[:40] + "..." + text[-12:])
    if isinstance(source, (bytes, bytearray)):
        return f"the {len(source)} bytes given"
    return f"the {type(source).__name__} given"


def is_file(text: str) -> bool:
    try:
        return len(text) < 4096 and Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def looks_like_base64(text: str) -> bool:
    return len(text) >= 64 and bool(_BASE64.match(text[:4096]))


def looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or Path(text).suffix.lower() in IMAGE_SUFFIXES


def is_image_reference(value: Any) -> bool:
    """True unless ``value`` is a string that cannot be an image (not a file, URL, base64 or path-like)."""
    if not isinstance(value, (str, Path)):
        return True
    text = str(value).strip()
    return (
        is_file(text)
        or text.startswith(("data:", "http://", "https://"))
        or looks_like_base64(text)
        or looks_like_path(text)
    )


def _decode_base64(text: str, what: str) -> bytes:
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise InvalidInput(f"{what} is a data: URL without base64 data.", "Use data:image/png;base64,... .")
    text = re.sub(r"\s+", "", text)
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, altchars=b"-_" if ("-" in text or "_" in text) else None, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not valid base64.", FORMATS_HINT) from None


def _as_bytes_or_path(source: Any) -> tuple[bytes | Path, str]:
    """Turn a path / base64 / bytes / file object into bytes or a Path, and a name for messages."""
    what = describe(source)
    if isinstance(source, Path):
        return source.expanduser(), what
    if isinstance(source, str):
        text = source.strip()
        if not text:
            raise InvalidInput("The image is empty: give a file path, bytes, base64 text or a PIL image.")
        path = Path(text).expanduser()
        if is_file(text):
            return path, what
        if text.startswith(("http://", "https://")):
            raise InvalidInput(
                f"{what} is a URL; modeldeck does not fetch URLs itself.",
                "Download the image first and give the file path.",
            )
        if len(text) < 4096 and os.path.isdir(path):  # before base64: a long path is base64's alphabet too
            raise InvalidInput(f"{what} is a folder, not an image file.", "Give the path of an image file inside it.")
        if text.startswith("data:") or looks_like_base64(text):
            return _decode_base64(text, what), "the base64 image"
        raise InvalidInput(f"No such image file: {what}.", "Check the path, or give bytes, base64 text or a PIL image.")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise InvalidInput("The image is empty (0 bytes).", FORMATS_HINT)
        return data, what
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise InvalidInput(f"{what} was opened in text mode.", "Open image files with mode 'rb'.")
        return _as_bytes_or_path(data)
    raise InvalidInput(f"Cannot read an image from {what}.", FORMATS_HINT)


SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF",
    b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
}


def _header_size(head: bytes, kind: str) -> tuple[int, int] | None:
    """Width and height from a PNG or GIF header, to name a 0x0 image for what it is."""
    import struct

    if kind == "PNG" and len(head) >= 24 and head[12:16] == b"IHDR":
        import zlib

        if len(head) >= 33 and zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
            return None  # a damaged header: its numbers mean nothing
        return struct.unpack(">II", head[16:24])
    if kind == "GIF" and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    return None


def _not_an_image(data: bytes | Path, what: str) -> InvalidInput:
    if isinstance(data, bytes):
        head = data[:64]
    else:
        with data.open("rb") as f:
            head = f.read(64)
    if not head:
        return InvalidInput(f"{what} is empty (0 bytes).", FORMATS_HINT)
    kind = next((k for sig, k in SIGNATURES.items() if head.startswith(sig)), None)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "WebP"
    if kind:
        size = _header_size(head, kind)
        if size and 0 in size:
            return InvalidInput(f"{what} is an empty {kind} image ({size[0]}x{size[1]} pixels).",
                                "Give an image with at least one pixel.")
        return InvalidInput(f"{what} looks like a {kind} file but is damaged and cannot be read.", FORMATS_HINT)
    text = head.decode("utf-8", "replace")
    readable = sum(c.isprintable() or c in "\r\n\t" for c in text)
    is_text = b"\x00" not in head and readable >= 0.9 * len(text)
    kind = "text, not an image" if is_text else "not in an image format modeldeck can read"
    return InvalidInput(f"{what} is {kind}.", FORMATS_HINT)


def _open(data: bytes | Path, what: str, limit: int, downscale: bool):
    from PIL import Image, UnidentifiedImageError

    fp = io.BytesIO(data) if isinstance(data, bytes) else data
    head = data[:64] if isinstance(data, bytes) else data.open("rb").read(64)
    kind = next((k for sig, k in SIGNATURES.items() if head.startswith(sig)), None)
    size = _header_size(head, kind) if kind else None
    if size and 0 not in size:  # a bomb is named by its size before the decoder sees it
        check_size(size, what, limit, downscale)
    try:
        image = Image.open(fp)  # lazy: reads the header only; our own limit is checked below
    except Image.DecompressionBombError as e:  # PIL's own ceiling, above modeldeck's default limit
        raise InvalidInput(
            f"{what} is too large for the image library to open ({e}).",
            "Shrink it first (modeldeck's limit is MODELDECK_MAX_IMAGE_PIXELS, but the decoder's is fixed).",
        ) from None
    except UnidentifiedImageError:
        raise _not_an_image(data, what) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidInput(f"{what} is a damaged image ({e}).", FORMATS_HINT) from None
    check_size(image.size, what, limit, downscale)
    if downscale and limit and image.width * image.height > limit and hasattr(image, "draft"):
        scale = (limit / (image.width * image.height)) ** 0.5
        image.draft("RGB", (int(image.width * scale) + 1, int(image.height * scale) + 1))  # JPEG: decode smaller
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InvalidInput(f"{what} is damaged or cut short and cannot be decoded ({e}).", FORMATS_HINT) from None
    return image


def check_size(size: tuple[int, int], what: str, limit: int, downscale: bool) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInput(f"{what} is empty ({width}x{height} pixels).", "Give an image with at least one pixel.")
    if limit and width * height > limit and not downscale:
        raise InvalidInput(
            f"{what} is {width}x{height} ({width * height / 1e6:.1f} megapixels), over the limit of "
            f"{limit / 1e6:g} megapixels.",
            "Shrink it first, pass downscale=True (CLI: --downscale) to shrink it to fit, or raise the "
            "limit with MODELDECK_MAX_IMAGE_PIXELS.",
        )


def _from_array(array: Any, what: str):
    import numpy as np
    from PIL import Image

    array = np.asarray(array)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first -> last
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise InvalidInput(
            f"{what} has shape {array.shape}; an image array is HxW, HxWx3 or HxWx4.", FORMATS_HINT
        )
    if array.size == 0:
        raise InvalidInput(f"{what} is empty ({array.shape[1]}x{array.shape[0]} pixels).")
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InvalidInput(f"{what} contains NaN or infinite values.")
        top = 1.0 if array.max() <= 1.0 and array.min() >= 0.0 else 255.0
        array = np.clip(array / top * 255.0, 0, 255).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8) if array.max() <= 255 else (array / array.max() * 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def to_rgb(image):
    """RGB, with transparency flattened onto white and 16-bit / float pixels scaled to 8 bits."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        return Image.fromarray(scaled.round().astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def shrink(image, limit: int, what: str):
    """``image`` scaled down (aspect kept) to at most ``limit`` pixels, with a log line saying so."""
    from PIL import Image

    width, height = image.size
    if not limit or width * height <= limit:
        return image
    scale = (limit / (width * height)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    log.warning("%s is %dx%d, over the %g MP limit: shrunk to %dx%d.", what, width, height, limit / 1e6, *size)
    return image.resize(size, Image.Resampling.LANCZOS)


def load_image(source: Any, *, downscale: bool = False, limit: int | None = None, name: str | None = None):
    """An RGB PIL image from a path, bytes, base64 / data: URL, PIL image, numpy array or binary file.

    ``limit`` defaults to ``MODELDECK_MAX_IMAGE_PIXELS``; larger images raise
    InvalidInput unless ``downscale`` is set, which shrinks them to fit.
    """
    from PIL import Image, ImageOps

    limit = max_pixels() if limit is None else limit
    what = name or describe(source)
    if isinstance(source, Image.Image):
        check_size(source.size, what, limit, downscale)
        try:
            source.load()
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise InvalidInput(f"{what} is damaged and cannot be decoded ({e}).", FORMATS_HINT) from None
        image = source
    elif type(source).__module__ == "numpy" or hasattr(source, "__array_interface__"):
        import numpy as np

        shape = np.shape(source)
        if len(shape) >= 2:
            hw = (shape[0], shape[1]) if len(shape) == 2 or shape[-1] in (1, 3, 4) else (shape[1], shape[2])
            check_size((hw[1], hw[0]), what, limit, downscale)
        image = _from_array(source, what)
    elif type(source).__module__.startswith("torch"):
        raise InvalidInput(f"{what} is a tensor.", "Pass a PIL image, a numpy array (HxWx3) or a file instead.")
    else:
        data, what_data = _as_bytes_or_path(source)
        what = name or what_data
        image = _open(data, what, limit, downscale)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not lose the picture
        log.debug("ignoring unreadable EXIF orientation in %s", what)
    image = to_rgb(image)
    if downscale:
        image = shrink(image, limit, what)
    return image


def load_images(sources: Any, *, downscale: bool = False, name: str = "image") -> list:
    """``load_image`` on one source or each of a list (an empty list is an error)."""
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise InvalidInput(f"{name!r} is empty: give at least one image.")
    many = len(items) > 1
    return [
        load_image(s, downscale=downscale, name=f"{name} {i + 1} ({describe(s)})" if many else None)
        for i, s in enumerate(items)
    ]
