"""Shared pydantic field types for service inputs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# Instants outside these years are refused: next to year 1 or 9999, converting to UTC or adding a
# day overflows (a 500), and no gateway event happens there.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
# Upper bounds of configured numbers: far above any real setting, far below 64-bit integers
# (SQLite refuses more) and finite (an infinite price makes every cost, and its JSON, infinite).
MAX_RATE = 1_000_000_000  # requests or tokens per minute
MAX_USD = 1_000_000_000.0  # a budget
MAX_PRICE_USD = 1_000_000.0  # per 1k tokens
MAX_COUNT = 1_000_000  # users, tokens


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 1970-01-01 and 2999-12-31 (UTC)")
    return value


def _storable(value: Any) -> Any:
    # Checked while the request is still open: a value orjson refuses (an integer beyond 64 bits,
    # nesting deeper than 254) would otherwise fail later in a batch writer, taking other
    # requests' (and tenants') rows with it.
    try:
        orjson.dumps(value)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise ValueError(f"cannot be stored ({exc}): integers must fit in 64 bits, nesting in 254 levels") from None
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 320:
        raise ValueError("must be a valid e-mail address")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
"""A datetime from 1970 to 2999; naive values are taken as UTC."""

StorableJson = Annotated[Any, AfterValidator(_storable)]
"""Any JSON value the stores can serialise (orjson: 64-bit integers, nesting below 255)."""

StorableObject = Annotated[dict, AfterValidator(_storable)]
"""A JSON object the stores can serialise."""

Email = Annotated[str, AfterValidator(_email)]
"""An e-mail address, lower-cased."""

Password = Annotated[str, Field(min_length=8, max_length=256)]
"""A password of 8 to 256 characters."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
"""A display name."""
