"""Relaying a chat stream through a front door's translator: one place that opens, feeds, ends and closes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable


async def translated(chunks: AsyncIterator[bytes], start: Callable[[], bytes], feed: Callable[[bytes], bytes],
                     end: Callable[[], bytes]) -> AsyncIterator[bytes]:
    """start(), feed(chunk) for every chat chunk, end(); the chat stream is closed in every case (that records
    its usage and releases the upstream)."""
    try:
        yield start()
        async for chunk in chunks:
            out = feed(chunk)
            if out:
                yield out
        tail = end()
        if tail:
            yield tail
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
