"""SQLite repositories for providers, models, usage (logs + hourly roll-ups) and files."""

from __future__ import annotations

import json

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import case, func
from sqlmodel import select

from gateway_app.db.records import FileRecord, ModelRecord, ProviderRecord, UsageRecord, UsageRollup
from gateway_app.db.sqlite.base_repository import SqlRepository, record_of
from gateway_app.db.tables.tenant import Model, ModelUsageLog, ProviderConfig, StoredFile, UsageHourly

class SqlProviderRepository(SqlRepository[ProviderConfig, ProviderRecord]):
    table, record = ProviderConfig, ProviderRecord

    def get_by_name(self, name: str) -> ProviderRecord | None:
        row = self._session.exec(select(ProviderConfig).where(ProviderConfig.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self) -> list[ProviderRecord]:
        return [self._to_record(r) for r in self._session.exec(select(ProviderConfig).order_by(ProviderConfig.name))]


class SqlModelRepository(SqlRepository[Model, ModelRecord]):
    table, record = Model, ModelRecord

    def get_by_name(self, name: str) -> ModelRecord | None:
        row = self._session.exec(select(Model).where(Model.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self, provider_id: str | None = None) -> list[ModelRecord]:
        query = select(Model).order_by(Model.name)
        if provider_id is not None:
            query = query.where(Model.provider_id == provider_id)
        return [self._to_record(r) for r in self._session.exec(query)]


class SqlUsageRepository:
    """Usage logs and their hourly roll-ups."""

    def __init__(self, session) -> None:
        self._session = session

    def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert usage rows (one per request)."""
        # A plain DB-API executemany: ORM objects (or even Core's per-row bind processing) cost the
        # writer thread, and so the GIL the request loop needs, several times more (see bench/).
        rows = [tuple(_sqlite_value(getattr(r, name)) for name in _USAGE_COLUMNS) for r in records]
        _cursor(self._session).executemany(_USAGE_INSERT, rows)

    def merge_rollups(self, rollups: Sequence[UsageRollup]) -> None:
        """Add roll-up deltas to the stored hourly rows (creating them when missing)."""
        # Plain SQL (one SELECT of the keys, one executemany upsert): the ORM's get/flush cycle cost
        # ~2 ms of the writer's CPU per tenant batch, which many tenants pay many times a second.
        cursor = _cursor(self._session)
        # Take the write lock before reading (a write statement does, even one that changes no row):
        # no other process can then commit between our read and our write, so no delta is lost.
        cursor.execute("UPDATE usage_hourly SET requests = requests WHERE 0")
        for start in range(0, len(rollups), 500):
            chunk = rollups[start:start + 500]
            keys = [(_sqlite_value(r.hour), r.model, r.token_id, r.project_id) for r in chunk]
            cursor.execute(_ROLLUP_SELECT + ",".join(["(?, ?, ?, ?)"] * len(keys)) + ")",
                           tuple(value for key in keys for value in key))
            found = {tuple(row[:4]): row[4:] for row in cursor.fetchall()}
            rows = []
            for key, delta in zip(keys, chunk, strict=True):
                old = found.get(key)
                buckets = delta.latency_buckets
                if old is not None:
                    buckets = _add_lists(json.loads(old[6]) if isinstance(old[6], str) else list(old[6] or []),
                                         buckets)
                    rows.append((*key, old[0] + delta.requests, old[1] + delta.errors,
                                 old[2] + delta.prompt_tokens, old[3] + delta.completion_tokens,
                                 old[4] + delta.cost_usd, old[5] + delta.latency_ms_sum, json.dumps(buckets)))
                else:
                    rows.append((*key, delta.requests, delta.errors, delta.prompt_tokens, delta.completion_tokens,
                                 delta.cost_usd, delta.latency_ms_sum, json.dumps(list(buckets))))
            cursor.executemany(_ROLLUP_UPSERT, rows)

    @staticmethod
    def _filtered(query, model: str | None, token_id: str | None, status: str | None, since: datetime | None):
        if model:
            query = query.where(ModelUsageLog.model == model)
        if token_id:
            query = query.where(ModelUsageLog.token_id == token_id)
        if status == "ok":
            query = query.where(ModelUsageLog.status < 400)
        elif status == "error":
            query = query.where(ModelUsageLog.status >= 400)
        if since is not None:
            query = query.where(ModelUsageLog.at >= since)
        return query

    def recent(self, *, model: str | None = None, token_id: str | None = None, status: str | None = None,
               since: datetime | None = None, offset: int = 0, limit: int = 50) -> list[UsageRecord]:
        """Newest request rows first, filtered."""
        query = self._filtered(select(ModelUsageLog), model, token_id, status, since)
        query = query.order_by(ModelUsageLog.at.desc(), ModelUsageLog.id.desc()).offset(offset).limit(limit)
        return [record_of(UsageRecord, r)
                for r in self._session.exec(query)]

    def count(self, *, model: str | None = None, token_id: str | None = None, status: str | None = None,
              since: datetime | None = None) -> int:
        """Number of request rows matching the filters."""
        query = self._filtered(select(func.count()).select_from(ModelUsageLog), model, token_id, status, since)
        return int(self._session.exec(query).one())

    def provider_stats(self, since: datetime) -> dict[str, tuple[int, int]]:
        """(requests, errors) per provider id since a time."""
        errors = func.sum(case((ModelUsageLog.status >= 400, 1), else_=0))
        query = (select(ModelUsageLog.provider_id, func.count(), errors).where(ModelUsageLog.at >= since)
                 .group_by(ModelUsageLog.provider_id))
        return {pid: (int(total), int(errs or 0)) for pid, total, errs in self._session.exec(query)}

    def rollups(self, start: datetime, end: datetime) -> list[UsageRollup]:
        """Hourly rows in [start, end)."""
        query = select(UsageHourly).where(UsageHourly.hour >= start, UsageHourly.hour < end).order_by(UsageHourly.hour)
        return [record_of(UsageRollup, r)
                for r in self._session.exec(query)]

    def spend(self, start: datetime, *, token_id: str | None = None, project_id: str | None = None) -> float:
        """Cost since start, for the whole tenant or one token / project."""
        query = select(func.coalesce(func.sum(UsageHourly.cost_usd), 0.0)).where(UsageHourly.hour >= start)
        if token_id is not None:
            query = query.where(UsageHourly.token_id == token_id)
        if project_id is not None:
            query = query.where(UsageHourly.project_id == project_id)
        return float(self._session.exec(query).one())


class SqlFileRepository(SqlRepository[StoredFile, FileRecord]):
    table, record = StoredFile, FileRecord

    def list(self, purpose: str | None = None, limit: int = 100) -> list[FileRecord]:
        query = select(StoredFile).order_by(StoredFile.created_at.desc()).limit(limit)
        if purpose:
            query = query.where(StoredFile.purpose == purpose)
        return [self._to_record(r) for r in self._session.exec(query)]


_ROLLUP_VALUES = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms_sum",
                  "latency_buckets")
_ROLLUP_SELECT = (f"SELECT hour, model, token_id, project_id, {', '.join(_ROLLUP_VALUES)} FROM usage_hourly "
                  "WHERE (hour, model, token_id, project_id) IN (VALUES ")
_ROLLUP_UPSERT = (f"INSERT INTO usage_hourly (hour, model, token_id, project_id, {', '.join(_ROLLUP_VALUES)}) "
                  f"VALUES ({', '.join('?' * (4 + len(_ROLLUP_VALUES)))}) "
                  "ON CONFLICT (hour, model, token_id, project_id) DO UPDATE SET "
                  + ", ".join(f"{name} = excluded.{name}" for name in _ROLLUP_VALUES))
_USAGE_COLUMNS = tuple(UsageRecord.__dataclass_fields__)
_USAGE_INSERT = (f"INSERT INTO model_usage_logs ({', '.join(_USAGE_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_USAGE_COLUMNS))})")


def _cursor(session):
    """A DB-API cursor inside the unit of work's transaction (no SQLAlchemy result processing)."""
    return session.connection().connection.dbapi_connection.cursor()


def _sqlite_value(value):
    # Same storage as the UtcDateTime column type: naive UTC text.
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _add_lists(a: list[int], b: list[int]) -> list[int]:
    size = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(size)]
