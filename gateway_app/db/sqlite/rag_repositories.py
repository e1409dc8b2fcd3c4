"""SQLite repository of RAG modules."""

from __future__ import annotations

from sqlmodel import select

from gateway_app.db.records import RagModuleRecord
from gateway_app.db.sqlite.base_repository import SqlRepository
from gateway_app.db.tables.tenant import RagModule


class SqlRagModuleRepository(SqlRepository[RagModule, RagModuleRecord]):
    table, record = RagModule, RagModuleRecord

    def get_by_name(self, name: str) -> RagModuleRecord | None:
        row = self._session.exec(select(RagModule).where(RagModule.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self, offset: int = 0, limit: int = 100) -> list[RagModuleRecord]:
        query = select(RagModule).order_by(RagModule.name).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]

    def using_store(self, store_id: str) -> list[RagModuleRecord]:
        # JSON lists are not indexed; a tenant holds tens of modules, not thousands.
        return [m for m in self.list(limit=10_000) if store_id in m.vector_store_ids]
