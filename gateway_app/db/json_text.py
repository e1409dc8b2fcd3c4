"""Caller-supplied JSON kept as text, for both backends (trace inputs, metadata, attributes)."""

from __future__ import annotations

import orjson


def dump_json(value: object) -> str | None:
    """A value as stored text (None stays None)."""
    return None if value is None else orjson.dumps(value, default=str).decode()


def load_json(text: object) -> object:
    """Stored JSON text back as a value (a value stored as is, or text that is not JSON, comes back unchanged)."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
