"""Generated text for both dialects: stop sequences, token counts, and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """``text`` up to the first stop sequence, and whether one was found."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


class StopScan:
    """Pieces of a stream up to the first stop sequence (holding back what could start one)."""

    def __init__(self, stop: list[str]):
        self.stop = [s for s in stop if s]
        self.keep = max((len(s) for s in self.stop), default=1) - 1
        self.held = ""
        self.stopped = False

    async def run(self, source: AsyncIterator[str]) -> AsyncIterator[str]:
        try:
            async for piece in source:
                if not self.stop:
                    yield piece
                    continue
                self.held += piece
                text, found = cut_at_stop(self.held, self.stop)
                if found:
                    self.stopped = True
                    if text:
                        yield text
                    self.held = ""
                    return
                if len(self.held) > self.keep:
                    cut = len(self.held) - self.keep
                    yield self.held[:cut]
                    self.held = self.held[cut:]
            if self.held:
                yield self.held
        finally:
            await source.aclose()  # stops the generation when we stop early
