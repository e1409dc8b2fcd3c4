"""SQLite repository of memory stores, their memories, history and asynchronous adds (vectors in Chroma)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, tuple_
from sqlmodel import select

from gateway_app.db.records import MemoryEventRecord, MemoryJobRecord, MemoryRecord, MemoryStoreRecord
from gateway_app.db.sqlite.base_repository import SqlRepository, fields_of, record_of
from gateway_app.db.sqlite.vector_repositories import _page
from gateway_app.db.tables.memory import Memory, MemoryEvent, MemoryJob, MemoryStore


def memory_record(row: Memory) -> MemoryRecord:
    return MemoryRecord(id=row.id, store_id=row.store_id, text=row.text, hash=row.hash, user_id=row.user_id,
                        agent_id=row.agent_id, run_id=row.run_id, metadata=row.metadata_, expires_at=row.expires_at,
                        created_at=row.created_at, updated_at=row.updated_at)


def _scoped(query, store_id: str, user_id: str | None, agent_id: str | None, run_id: str | None):
    query = query.where(Memory.store_id == store_id)
    for column, value in ((Memory.user_id, user_id), (Memory.agent_id, agent_id), (Memory.run_id, run_id)):
        if value:
            query = query.where(column == value)
    return query


class SqlMemoryRepository(SqlRepository[MemoryStore, MemoryStoreRecord]):
    """Stores by id (get/add/update from the base), memories, history and jobs."""

    table, record = MemoryStore, MemoryStoreRecord

    # Stores -----------------------------------------------------------------------------------

    def get_by_name(self, name: str) -> MemoryStoreRecord | None:
        row = self._session.exec(select(MemoryStore).where(MemoryStore.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self, offset: int = 0, limit: int = 100) -> list[MemoryStoreRecord]:
        query = select(MemoryStore).order_by(MemoryStore.name).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]

    def delete(self, key: str) -> bool:
        row = self._row(key)
        if row is None:
            return False
        for table in (Memory, MemoryEvent, MemoryJob):
            self._session.exec(delete(table).where(table.store_id == key))
        self._session.delete(row)
        self._session.flush()
        return True

    # Memories ---------------------------------------------------------------------------------

    def get_memory(self, memory_id: str) -> MemoryRecord | None:
        row = self._session.get(Memory, memory_id)
        return None if row is None else memory_record(row)

    def memories_by_id(self, ids: Sequence[str]) -> dict[str, MemoryRecord]:
        if not ids:
            return {}
        rows = self._session.exec(select(Memory).where(Memory.id.in_(list(ids))))
        return {row.id: memory_record(row) for row in rows}

    def add_memory(self, record: MemoryRecord) -> MemoryRecord:
        values = fields_of(record)
        values["metadata_"] = values.pop("metadata")
        self._session.add(Memory(**values))
        self._flush("memory")
        return record

    def update_memory(self, memory_id: str, changes: dict) -> MemoryRecord | None:
        row = self._session.get(Memory, memory_id)
        if row is None:
            return None
        for name, value in changes.items():
            setattr(row, "metadata_" if name == "metadata" else name, value)
        self._session.add(row)
        self._flush("memory")
        return memory_record(row)

    def delete_memory(self, memory_id: str) -> bool:
        row = self._session.get(Memory, memory_id)
        if row is None:
            return False
        self._session.delete(row)
        self._session.flush()
        return True

    def find_hash(self, store_id: str, hash_: str, user_id: str, agent_id: str, run_id: str) -> MemoryRecord | None:
        """A memory of exactly this scope with this text hash."""
        query = select(Memory).where(Memory.store_id == store_id, Memory.hash == hash_, Memory.user_id == user_id,
                                     Memory.agent_id == agent_id, Memory.run_id == run_id)
        row = self._session.exec(query).first()
        return None if row is None else memory_record(row)

    def list_memories(self, store_id: str, *, user_id: str | None = None, agent_id: str | None = None,
                      run_id: str | None = None, order: str = "desc", after: str | None = None,
                      before: str | None = None, limit: int = 20) -> list[MemoryRecord]:
        def cursor(memory_id: str):
            row = self._session.get(Memory, memory_id)
            return tuple_(row.created_at, row.id) if row else tuple_(func.datetime("now"), memory_id)

        query = _page(_scoped(select(Memory), store_id, user_id, agent_id, run_id), [Memory.created_at, Memory.id],
                      cursor, order, after, before, limit)
        return [memory_record(r) for r in self._session.exec(query)]

    def count_memories(self, store_id: str, *, user_id: str | None = None) -> int:
        query = _scoped(select(func.count()).select_from(Memory), store_id, user_id, None, None)
        return int(self._session.exec(query).one())

    def scope_values(self, store_id: str, column: str, limit: int = 200) -> list[str]:
        """Distinct non-empty user_id, agent_id or run_id values of a store (for the console's browser)."""
        field = {"user_id": Memory.user_id, "agent_id": Memory.agent_id, "run_id": Memory.run_id}[column]
        query = (select(field).where(Memory.store_id == store_id, field != "").distinct().order_by(field)
                 .limit(limit))
        return list(self._session.exec(query))

    def delete_user(self, store_id: str, user_id: str) -> list[str]:
        """Delete a user's memories; their ids."""
        ids = list(self._session.exec(select(Memory.id).where(Memory.store_id == store_id, Memory.user_id == user_id)))
        if ids:
            self._session.exec(delete(Memory).where(Memory.store_id == store_id, Memory.user_id == user_id))
        return ids

    def expired(self, now: datetime, limit: int = 500) -> list[MemoryRecord]:
        query = (select(Memory).where(Memory.expires_at.is_not(None), Memory.expires_at <= now)
                 .order_by(Memory.expires_at).limit(limit))
        return [memory_record(r) for r in self._session.exec(query)]

    # History ----------------------------------------------------------------------------------

    def add_events(self, records: Sequence[MemoryEventRecord]) -> None:
        self._session.add_all([MemoryEvent(**fields_of(r)) for r in records])
        self._session.flush()

    def history(self, memory_id: str, limit: int = 200) -> list[MemoryEventRecord]:
        query = select(MemoryEvent).where(MemoryEvent.memory_id == memory_id).order_by(
            MemoryEvent.at, MemoryEvent.id).limit(limit)
        return [record_of(MemoryEventRecord, r) for r in self._session.exec(query)]

    def delete_user_history(self, store_id: str, user_id: str) -> list[str]:
        """Remove a user's history (forgetting a user keeps only the FORGET events written after this); the ids
        of the memories it was the history of."""
        where = (MemoryEvent.store_id == store_id, MemoryEvent.user_id == user_id)
        ids = list(self._session.exec(select(MemoryEvent.memory_id).where(*where).distinct()))
        if ids:
            self._session.exec(delete(MemoryEvent).where(*where))
        return ids

    def daily_events(self, store_id: str, since: datetime) -> dict[str, dict[str, int]]:
        """Events per UTC day and kind."""
        day = func.strftime("%Y-%m-%d", MemoryEvent.at)
        query = (select(day, MemoryEvent.event, func.count())
                 .where(MemoryEvent.store_id == store_id, MemoryEvent.at >= since)
                 .group_by(day, MemoryEvent.event))
        out: dict[str, dict[str, int]] = {}
        for d, event, n in self._session.exec(query):
            out.setdefault(d, {})[event] = int(n)
        return out

    # Asynchronous adds ------------------------------------------------------------------------

    def add_job(self, record: MemoryJobRecord) -> MemoryJobRecord:
        self._session.add(MemoryJob(**fields_of(record)))
        self._flush("memory job")
        return record

    def get_job(self, job_id: str) -> MemoryJobRecord | None:
        row = self._session.get(MemoryJob, job_id)
        return None if row is None else record_of(MemoryJobRecord, row)

    def update_job(self, job_id: str, changes: dict) -> MemoryJobRecord | None:
        row = self._session.get(MemoryJob, job_id)
        if row is None:
            return None
        for name, value in changes.items():
            setattr(row, name, value)
        self._session.add(row)
        self._session.flush()
        return record_of(MemoryJobRecord, row)

    def stale_jobs(self, before: datetime, limit: int = 100) -> list[MemoryJobRecord]:
        query = (select(MemoryJob).where(MemoryJob.status == "in_progress", MemoryJob.created_at < before)
                 .limit(limit))
        return [record_of(MemoryJobRecord, r) for r in self._session.exec(query)]
