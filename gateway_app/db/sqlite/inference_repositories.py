"""SQLite repositories for providers, models, usage (logs + hourly roll-ups) and files."""

from __future__ import annotations


from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import select

from gateway_app.db.records import BLOCKED_ERROR_TYPE, FileRecord, ModelRecord, ProviderRecord, UsageRecord, UsageRollup
from gateway_app.db.sqlite.base_repository import SqlRepository, record_of
from gateway_app.db.sqlite.usage_sql import dbapi_cursor, insert_usage, merge_rollups
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
        insert_usage(dbapi_cursor(self._session), records)

    def merge_rollups(self, rollups: Sequence[UsageRollup]) -> None:
        """Add roll-up deltas to the stored hourly rows (creating them when missing)."""
        merge_rollups(dbapi_cursor(self._session), rollups)

    @staticmethod
    def _filtered(query, model: str | None, token_id: str | None, status: str | None, since: datetime | None,
                  rag_module: str | None = None, memory_store: str | None = None):
        if model:
            query = query.where(ModelUsageLog.model == model)
        if token_id:
            query = query.where(ModelUsageLog.token_id == token_id)
        if status == "ok":
            query = query.where(ModelUsageLog.status < 400)
        elif status == "error":
            query = query.where(ModelUsageLog.status >= 400, ModelUsageLog.error_type != BLOCKED_ERROR_TYPE)
        elif status == "blocked":
            query = query.where(ModelUsageLog.error_type == BLOCKED_ERROR_TYPE)
        if since is not None:
            query = query.where(ModelUsageLog.at >= since)
        if rag_module:  # the second term lets SQLite use the partial index (tables/tenant.py)
            query = query.where(ModelUsageLog.rag_module == rag_module, ModelUsageLog.rag_module != "")
        if memory_store:
            query = query.where(ModelUsageLog.memory_store == memory_store, ModelUsageLog.memory_store != "")
        return query

    def recent(self, *, model: str | None = None, token_id: str | None = None, status: str | None = None,
               since: datetime | None = None, rag_module: str | None = None, memory_store: str | None = None,
               offset: int = 0, limit: int = 50, until: datetime | None = None) -> list[UsageRecord]:
        """Newest request rows first, filtered (rag_module / memory_store: the calls made for it; until: at or before)."""
        query = self._filtered(select(ModelUsageLog), model, token_id, status, since, rag_module, memory_store)
        if until is not None:
            query = query.where(ModelUsageLog.at <= until)
        query = query.order_by(ModelUsageLog.at.desc(), ModelUsageLog.id.desc()).offset(offset).limit(limit)
        return [record_of(UsageRecord, r)
                for r in self._session.exec(query)]

    def count(self, *, model: str | None = None, token_id: str | None = None, status: str | None = None,
              since: datetime | None = None, rag_module: str | None = None, memory_store: str | None = None) -> int:
        """Number of request rows matching the filters."""
        query = self._filtered(select(func.count()).select_from(ModelUsageLog), model, token_id, status, since,
                               rag_module, memory_store)
        return int(self._session.exec(query).one())

    def daily_counts(self, since: datetime, *, memory_store: str, request_prefix: str) -> dict[str, int]:
        """Requests per UTC day (YYYY-MM-DD) made for a memory store whose request id has a prefix."""
        day = func.strftime("%Y-%m-%d", ModelUsageLog.at)
        query = (select(day, func.count()).where(ModelUsageLog.memory_store == memory_store,
                                                 ModelUsageLog.memory_store != "",  # the partial index
                                                 ModelUsageLog.at >= since,
                                                 ModelUsageLog.request_id.startswith(request_prefix))
                 .group_by(day))
        return {d: int(n) for d, n in self._session.exec(query)}

    def provider_stats(self, since: datetime) -> dict[str, tuple[int, int]]:
        """(requests, errors) per provider id since a time."""
        # A guardrail's refusal says nothing about the provider.
        errors = func.sum(case(((ModelUsageLog.status >= 400) & (ModelUsageLog.error_type != BLOCKED_ERROR_TYPE), 1),
                               else_=0))
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
