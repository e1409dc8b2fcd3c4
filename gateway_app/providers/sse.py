"""Reading OpenAI-format server-sent events (chat.completion.chunk)."""

from __future__ import annotations

import orjson


def parse_sse(chunk: bytes) -> tuple[str, dict | None, dict | None]:
    """Text deltas, usage and error carried by a chunk of OpenAI-format SSE bytes."""
    text, usage, error = [], None, None
    for event in chunk.split(b"\n\n"):
        event = event.strip()
        if not event.startswith(b"data:"):
            continue
        data = event[5:].strip()
        if data == b"[DONE]":
            continue
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(parsed, dict):
            continue
        if parsed.get("error"):
            error = parsed["error"]
        if parsed.get("usage"):
            usage = parsed["usage"]
        for choice in parsed.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                text.append(content)
    return "".join(text), usage, error
