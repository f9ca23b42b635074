"""How deep a JSON body nests, found before anything parses it.

Python's json parser recurses: 100,000 nested brackets raise RecursionError (a 500), and a few hundred
still reach code that walks the value recursively. The depth is found on the raw bytes, at C speed:
strings are cut out first (a bracket inside one is text), every other byte but brackets dropped, both
kinds of bracket written as one, then innermost pairs removed once per level, at most the limit's number
of times (a run of more openers than the limit, the usual shape of an attack, is found in one pass).
"""

from __future__ import annotations

import re

STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_OTHERS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int) -> bool:
    """Whether ``body`` nests deeper than ``limit`` levels (False for text that is not balanced JSON: the
    parser then says what is wrong with it)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = STRING.sub(b"", body).translate(_BRACKETS, _OTHERS)
    if b"(" * (limit + 1) in brackets:
        return True
    for _ in range(limit):
        inner = brackets.replace(b"()", b"")
        if not inner or inner == brackets:
            return False  # all levels gone, or unbalanced (not JSON: the parser says so)
        brackets = inner
    return True
