"""Usage rows, hourly roll-ups and token last-used in plain SQL on a DB-API cursor.

Shared by the repositories (inside a unit of work) and the writers' fast path (a plain sqlite3
connection per tenant): per-request volume is written here, so it skips the ORM entirely.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter

from gateway_app.db.records import UsageRecord, UsageRollup

_ROLLUP_VALUES = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms_sum",
                  "latency_buckets", "blocked")
_SUMMED = tuple(name for name in _ROLLUP_VALUES if name != "latency_buckets")
# One statement adds a batch's deltas to the stored hours: no read-modify-write in Python, so no
# lost update whoever else writes, and no SELECT per batch (with a thousand tenants nearly every
# batch is one or two records, so what a statement costs is what a request costs the writer).
_ROLLUP_UPSERT = (f"INSERT INTO usage_hourly (hour, model, token_id, project_id, {', '.join(_ROLLUP_VALUES)}) "
                  f"VALUES ({', '.join('?' * (4 + len(_ROLLUP_VALUES)))}) "
                  "ON CONFLICT (hour, model, token_id, project_id) DO UPDATE SET "
                  + ", ".join(f"{name} = coalesce({name}, 0) + excluded.{name}" for name in _SUMMED)
                  + ", latency_buckets = gh_add_counts(latency_buckets, excluded.latency_buckets)")
_USAGE_COLUMNS = tuple(UsageRecord.__dataclass_fields__)
_USAGE_INSERT = (f"INSERT INTO model_usage_logs ({', '.join(_USAGE_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_USAGE_COLUMNS))})")
_USAGE_VALUES = attrgetter(*_USAGE_COLUMNS)
_AT = _USAGE_COLUMNS.index("at")
_TOUCH = "UPDATE api_tokens SET last_used_at = ? WHERE id = ?"


def dbapi_cursor(session):
    """A DB-API cursor inside a unit of work's transaction (no SQLAlchemy result processing)."""
    return session.connection().connection.dbapi_connection.cursor()


def sqlite_value(value):
    """A value as the ORM stores it (datetimes: naive UTC text, like the UtcDateTime column type)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_usage(cursor, records: Sequence[UsageRecord]) -> None:
    """Insert usage rows (one per request)."""
    rows = []
    for record in records:
        row = list(_USAGE_VALUES(record))  # one C call for the 22 columns; only `at` needs converting
        row[_AT] = sqlite_value(row[_AT])
        rows.append(row)
    cursor.executemany(_USAGE_INSERT, rows)


def merge_rollups(cursor, rollups: Sequence[UsageRollup]) -> None:
    """Add roll-up deltas to the stored hourly rows (creating them when missing)."""
    cursor.executemany(_ROLLUP_UPSERT, [
        (sqlite_value(r.hour), r.model, r.token_id, r.project_id, r.requests, r.errors, r.prompt_tokens,
         r.completion_tokens, r.cost_usd, r.latency_ms_sum, json.dumps(list(r.latency_buckets)), r.blocked)
        for r in rollups])


def register_functions(connection) -> None:
    """SQL functions the statements here use, on a DB-API connection (each new one)."""
    connection.create_function("gh_add_counts", 2, add_counts, deterministic=True)


def add_counts(stored: str | None, delta: str | None) -> str:
    """Two JSON lists of counts added element-wise (the shorter padded with zeros): histogram buckets."""
    a = json.loads(stored) if stored else []
    b = json.loads(delta) if delta else []
    if len(a) < len(b):
        a, b = b, a
    for index, value in enumerate(b):
        a[index] += value
    return json.dumps(a)


def touch_tokens(cursor, last_used: Sequence[tuple[str, datetime]]) -> None:
    """Set last_used_at of tokens."""
    cursor.executemany(_TOUCH, [(sqlite_value(when), token_id) for token_id, when in last_used])
