"""Extra upstream headers of a provider: credentials like the key, so encrypted at rest and shown masked.

They are stored as one encrypted JSON object (`headers_enc`) with a masked copy for display
(`header_hints`). A value sent back exactly as its mask (the console round-trips what it was shown)
keeps the stored value, so editing other options never wipes or leaks a header.
"""

from __future__ import annotations

import re

import orjson

from gateway_app.core.crypto import SecretBox, mask_secret
from gateway_app.db.records import ProviderRecord

MAX_HEADERS = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
# The gateway sets these itself; letting a tenant set them would break framing or routing.
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection", "content-type", "upgrade",
                       "te", "trailer", "keep-alive", "proxy-authorization", "proxy-connection"})


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Validate header names and values (raises ValueError naming the header)."""
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} extra headers")
    for name, value in headers.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"header name {name[:100]!r} must be letters, digits and dashes")
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} is set by the gateway and cannot be configured")
        if len(value) > 4000 or any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name!r}: the value must be one line of at most 4000 characters")
    return headers


def masked(headers: dict[str, str]) -> dict[str, str]:
    """Header names with masked values."""
    return {name: mask_secret(value) for name, value in headers.items()}


def stored_headers(record: ProviderRecord, box: SecretBox) -> dict[str, str]:
    """The provider's headers in clear (decrypted; legacy plaintext rows are read as they are)."""
    if record.headers_enc:
        return orjson.loads(box.decrypt(record.headers_enc))
    legacy = record.options.get("headers")
    return dict(legacy) if isinstance(legacy, dict) else {}


def header_changes(box: SecretBox, headers: dict[str, str], current: dict[str, str] | None = None) -> dict:
    """Record fields for a new set of headers; values equal to a current header's mask keep that header."""
    current = current or {}
    hints = masked(current)
    merged = {name: current[name] if name in current and value == hints[name] else value
              for name, value in headers.items()}
    return {"headers_enc": box.encrypt(orjson.dumps(merged).decode()) if merged else None,
            "header_hints": masked(merged)}


def without_headers(options: dict) -> dict:
    """Options as stored: the headers never live there in clear."""
    return {key: value for key, value in options.items() if key != "headers"}
