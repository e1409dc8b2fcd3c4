"""Usage rows, hourly roll-ups and token last-used in plain SQL on a DB-API cursor.

Shared by the repositories (inside a unit of work) and the writers' fast path (a plain sqlite3
connection per tenant): per-request volume is written here, so it skips the ORM entirely.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from gateway_app.db.records import UsageRecord, UsageRollup

_ROLLUP_VALUES = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms_sum",
                  "latency_buckets", "blocked")
_ROLLUP_SELECT = (f"SELECT hour, model, token_id, project_id, {', '.join(_ROLLUP_VALUES)} FROM usage_hourly "
                  "WHERE (hour, model, token_id, project_id) IN (VALUES ")
_ROLLUP_UPSERT = (f"INSERT INTO usage_hourly (hour, model, token_id, project_id, {', '.join(_ROLLUP_VALUES)}) "
                  f"VALUES ({', '.join('?' * (4 + len(_ROLLUP_VALUES)))}) "
                  "ON CONFLICT (hour, model, token_id, project_id) DO UPDATE SET "
                  + ", ".join(f"{name} = excluded.{name}" for name in _ROLLUP_VALUES))
_USAGE_COLUMNS = tuple(UsageRecord.__dataclass_fields__)
_USAGE_INSERT = (f"INSERT INTO model_usage_logs ({', '.join(_USAGE_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_USAGE_COLUMNS))})")
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
    cursor.executemany(_USAGE_INSERT, [tuple(sqlite_value(getattr(r, name)) for name in _USAGE_COLUMNS)
                                       for r in records])


def merge_rollups(cursor, rollups: Sequence[UsageRollup]) -> None:
    """Add roll-up deltas to the stored hourly rows (creating them when missing)."""
    # Take the write lock before reading (a write statement does, even one that changes no row):
    # no other process can then commit between our read and our write, so no delta is lost.
    cursor.execute("UPDATE usage_hourly SET requests = requests WHERE 0")
    for start in range(0, len(rollups), 500):
        chunk = rollups[start:start + 500]
        keys = [(sqlite_value(r.hour), r.model, r.token_id, r.project_id) for r in chunk]
        cursor.execute(_ROLLUP_SELECT + ",".join(["(?, ?, ?, ?)"] * len(keys)) + ")",
                       tuple(value for key in keys for value in key))
        found = {tuple(row[:4]): row[4:] for row in cursor.fetchall()}
        rows = []
        for key, delta in zip(keys, chunk, strict=True):
            old = found.get(key)
            if old is None:
                rows.append((*key, delta.requests, delta.errors, delta.prompt_tokens, delta.completion_tokens,
                             delta.cost_usd, delta.latency_ms_sum, json.dumps(list(delta.latency_buckets)),
                             delta.blocked))
                continue
            stored = json.loads(old[6]) if isinstance(old[6], str) else list(old[6] or [])
            rows.append((*key, old[0] + delta.requests, old[1] + delta.errors, old[2] + delta.prompt_tokens,
                         old[3] + delta.completion_tokens, old[4] + delta.cost_usd, old[5] + delta.latency_ms_sum,
                         json.dumps(_add_lists(stored, delta.latency_buckets)), (old[7] or 0) + delta.blocked))
        cursor.executemany(_ROLLUP_UPSERT, rows)


def touch_tokens(cursor, last_used: Sequence[tuple[str, datetime]]) -> None:
    """Set last_used_at of tokens."""
    cursor.executemany(_TOUCH, [(sqlite_value(when), token_id) for token_id, when in last_used])


def _add_lists(a: list[int], b: list[int]) -> list[int]:
    size = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(size)]
