"""Reading OpenAI-format server-sent events (chat.completion.chunk)."""

from __future__ import annotations

import time

import orjson

from gateway_app.core.ids import fast_id


def sse_data(data: dict) -> bytes:
    """One `data:` event of OpenAI-format SSE."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


def sse_event(name: str, data: dict) -> bytes:
    """One named event (`event:` and `data:` lines), as the Responses and Messages streams send them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def lead_chunk(model: str, fields: dict) -> bytes:
    """A chunk without choices carrying extension fields (RAG citations, memory ids) before any token."""
    return sse_data({"id": fast_id("chatcmpl"), "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [], **fields})


def chunk_events(chunk: bytes) -> list[dict | None]:
    """The JSON objects of the `data:` events in a chunk of OpenAI-format SSE bytes (None for [DONE])."""
    events: list[dict | None] = []
    for event in chunk.split(b"\n\n"):
        event = event.strip()
        if not event.startswith(b"data:"):
            continue
        data = event[5:].strip()
        if data == b"[DONE]":
            events.append(None)
            continue
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            events.append(parsed)
    return events


def parse_sse(chunk: bytes) -> tuple[str, dict | None, dict | None]:
    """Text deltas, usage and error carried by a chunk of OpenAI-format SSE bytes."""
    text, usage, error = [], None, None
    for parsed in chunk_events(chunk):
        if parsed is None:
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
