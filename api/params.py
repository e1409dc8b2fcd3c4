"""Bounded query and path parameters shared by the routes.

Every value a client puts in a URL has a bound that the published schema shows: an integer past
SQLite's 64 bits, a date next to year 1 or 9999, or a megabyte of text for a LIKE filter must be
refused as invalid input (422 on /admin, 400 on /v1), never reach a query and come back as a 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from gateway_app.services.fields import UtcDatetime

MAX_OFFSET = 1_000_000  # deeper pages are an export's job, not a list's
MAX_LIMIT = 500
MAX_FILTER_CHARS = 200
MAX_PATH_CHARS = 256

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip (at most {MAX_OFFSET:,})")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"rows to return (at most {MAX_LIMIT})")]
Filter = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]
"""An optional text filter (exact match or substring)."""
Instant = UtcDatetime
"""ISO 8601 date-time from 1970 to 2999; naive values are UTC (bounded so arithmetic cannot overflow)."""
Ref = Annotated[str, Path(min_length=1, max_length=MAX_PATH_CHARS)]
"""An id or name in the path."""
