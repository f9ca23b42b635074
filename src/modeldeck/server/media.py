"""Pictures and sounds from requests: raw bytes, base64, data: URLs, and http(s) URLs when allowed.

A string is never read as a file path on the server. Decoding happens here, in
the request's worker thread, with the configured limits (pixels, seconds).
"""

from __future__ import annotations

import base64
import binascii
import re

from .errors import ClientError

_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def looks_like_media(value) -> bool:
    """Bytes, a data: URL, or a long string of base64 (no spaces): what a media input looks like."""
    if isinstance(value, (bytes, bytearray)):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text.startswith(("data:", "http://", "https://")) or (len(text) >= 64 and bool(_B64.match(text[:8192])))


def to_bytes(value, name: str, allow_urls: bool, max_bytes: int) -> bytes:
    """The file bytes of one media input (bytes, base64 text, a data: URL, or a URL when allowed)."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith(("http://", "https://")):
            if not allow_urls:
                raise ClientError(
                    400, f"{name!r} is a URL, and this server does not fetch URLs.", param=name,
                    hint="Send the file's bytes or base64 (or start the server with --allow-urls).",
                )
            data = fetch(text, name, max_bytes)
        else:
            if text.startswith("data:"):
                header, _, text = text.partition(",")
                if ";base64" not in header:
                    raise ClientError(400, f"{name!r} is a data: URL without base64 data.", param=name)
            data = b64decode(text, name)
    else:
        raise ClientError(
            400, f"{name!r} must be base64 text (or file bytes), not {type(value).__name__}.", param=name
        )
    if not data:
        raise ClientError(400, f"{name!r} is empty (0 bytes).", param=name)
    return data


def b64decode(text: str, name: str) -> bytes:
    cleaned = "".join(text.split())
    if not cleaned or not _B64.match(cleaned):
        raise ClientError(
            400, f"{name!r} is not base64 data.", param=name,
            hint="Send the file as base64 text or a data: URL (the server never reads file paths).",
        )
    try:
        padded = cleaned + "=" * (-len(cleaned) % 4)
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ClientError(400, f"{name!r} is not valid base64.", param=name) from None


def fetch(url: str, name: str, max_bytes: int) -> bytes:
    """GET ``url`` (only when the operator allowed URLs), at most ``max_bytes``."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=30, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise ClientError(400, f"{name!r}: {url} answered HTTP {response.status_code}.", param=name)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ClientError(413, f"{name!r}: {url} is larger than {max_bytes} bytes.", param=name)
                chunks.append(chunk)
    except httpx.HTTPError as e:
        raise ClientError(400, f"{name!r}: could not fetch {url} ({type(e).__name__}).", param=name) from None
    return b"".join(chunks)


def decode_inputs(spec, inputs: dict, params: dict, allow_urls: bool, max_bytes: int) -> None:
    """Decode the media inputs of ``inputs`` in place (pictures to PIL, sounds to (samples, rate))."""
    from ..media.audio import decode
    from ..media.image import load_image

    for item in spec.inputs:
        if item.kind not in ("image", "audio") or item.name not in inputs:
            continue
        values = inputs[item.name]
        many = item.many and isinstance(values, list)
        decoded = []
        for value in values if many else [values]:
            data = to_bytes(value, item.name, allow_urls, max_bytes)
            if item.kind == "image":
                decoded.append(load_image(data, downscale=bool(params.get("downscale")), name=f"the {item.name!r} image"))
            else:
                decoded.append(decode(data, name=item.name))
        inputs[item.name] = decoded if many else decoded[0]


IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
AUDIO_MAGIC = (b"fLaC", b"OggS", b"ID3", b"\x1aE\xdf\xa3", b"FORM")


def sniff(data: bytes, content_type: str = "") -> str | None:
    """'image' or 'audio' from the content type or the first bytes; None when neither is clear."""
    kind = content_type.split("/")[0]
    if kind in ("image", "audio"):
        return kind
    head = data[:16]
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head.startswith(AUDIO_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[4:8] == b"ftyp":
        return "audio"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio frame
        return "audio"
    return None
