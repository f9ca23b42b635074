"""Byte and count units: parsing sizes people write, formatting sizes and parameter counts."""

from __future__ import annotations

import re

from ..errors import InvalidInput

KiB, MiB, GiB = 1024, 1024**2, 1024**3


def format_bytes(n: int | float | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}" if unit == "GB" else f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def format_count(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def parse_bytes(text: str) -> int:
    """'8GB', '512 MiB', '2e9' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMgGtT]?i?[bB]?)\s*", str(text))
    if not match:
        raise InvalidInput(f"{text!r} is not a size.", "Write it like '8GB', '512MiB' or '60%'.")
    number, unit = float(match[1]), match[2].lower().rstrip("b")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": KiB, "mi": MiB, "gi": GiB, "ti": 1024**4}
    if unit not in scale:
        raise InvalidInput(f"{text!r} has an unknown unit.", "Use B, kB, MB, GB, MiB or GiB.")
    return int(number * scale[unit])
