"""SQLite repository of vector stores, their files and file batches (the chunks are in Chroma)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, tuple_, update
from sqlmodel import select

from gateway_app.db.records import VectorFileBatchRecord, VectorFileRecord, VectorStoreRecord
from gateway_app.db.sqlite.base_repository import SqlRepository, fields_of, record_of
from gateway_app.db.tables.tenant import VectorFileBatch, VectorIndex, VectorStoreFile

STATUSES = ("in_progress", "completed", "cancelled", "failed")


def vector_store_record(row: VectorIndex) -> VectorStoreRecord:
    return VectorStoreRecord(id=row.id, name=row.name, embedding_model=row.embedding_model, metadata=row.metadata_,
                             expires_after=row.expires_after, expires_at=row.expires_at, dimensions=row.dimensions,
                             usage_bytes=row.usage_bytes, created_at=row.created_at,
                             last_active_at=row.last_active_at)


def _page(query, key_columns, cursor_key, order: str, after, before, limit: int):
    """Cursor pagination over (created_at, id): `after`/`before` name an item of the list."""
    key = tuple_(*key_columns)
    newest_first = order != "asc"
    if after is not None:
        query = query.where(key < cursor_key(after) if newest_first else key > cursor_key(after))
    if before is not None:
        query = query.where(key > cursor_key(before) if newest_first else key < cursor_key(before))
    ordering = [c.desc() if newest_first else c.asc() for c in key_columns]
    return query.order_by(*ordering).limit(limit)


class SqlVectorStoreRepository(SqlRepository[VectorIndex, VectorStoreRecord]):
    table, record = VectorIndex, VectorStoreRecord

    def _to_record(self, row: VectorIndex) -> VectorStoreRecord:
        return vector_store_record(row)

    def add(self, record: VectorStoreRecord) -> VectorStoreRecord:
        values = fields_of(record)
        values["metadata_"] = values.pop("metadata")
        self._session.add(VectorIndex(**values))
        self._flush("vector store")
        return record

    def update(self, key: str, changes: dict) -> VectorStoreRecord | None:
        if "metadata" in changes:
            changes = {**changes}
            row = self._row(key)
            if row is None:
                return None
            row.metadata_ = changes.pop("metadata")
        return super().update(key, changes)

    def _cursor(self, store_id: str):
        row = self._row(store_id)
        return tuple_(row.created_at, row.id) if row else tuple_(func.datetime("now"), store_id)

    def list(self, *, order: str = "desc", after: str | None = None, before: str | None = None,
             limit: int = 20) -> list[VectorStoreRecord]:
        query = _page(select(VectorIndex), [VectorIndex.created_at, VectorIndex.id], self._cursor,
                      order, after, before, limit)
        return [vector_store_record(r) for r in self._session.exec(query)]

    def delete(self, key: str) -> bool:
        row = self._row(key)
        if row is None:
            return False
        self._session.exec(delete(VectorStoreFile).where(VectorStoreFile.store_id == key))
        self._session.exec(delete(VectorFileBatch).where(VectorFileBatch.store_id == key))
        self._session.delete(row)
        self._session.flush()
        return True

    def file_counts(self, store_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts = {s: dict.fromkeys(STATUSES, 0) for s in store_ids}
        if not store_ids:
            return counts
        query = (select(VectorStoreFile.store_id, VectorStoreFile.status, func.count())
                 .where(VectorStoreFile.store_id.in_(list(store_ids)))
                 .group_by(VectorStoreFile.store_id, VectorStoreFile.status))
        for store_id, status, n in self._session.exec(query):
            counts[store_id][status] = n
        return counts

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        query = (select(VectorStoreFile.status, func.count()).where(VectorStoreFile.batch_id == batch_id)
                 .group_by(VectorStoreFile.status))
        return {status: n for status, n in self._session.exec(query)}

    # Files ------------------------------------------------------------------------------------

    def _file_row(self, store_id: str, file_id: str) -> VectorStoreFile | None:
        return self._session.get(VectorStoreFile, (store_id, file_id))

    def get_file(self, store_id: str, file_id: str) -> VectorFileRecord | None:
        row = self._file_row(store_id, file_id)
        return None if row is None else record_of(VectorFileRecord, row)

    def add_file(self, record: VectorFileRecord) -> VectorFileRecord:
        self._session.add(VectorStoreFile(**fields_of(record)))
        self._flush("vector store file")
        return record

    def update_file(self, store_id: str, file_id: str, changes: dict) -> VectorFileRecord | None:
        row = self._file_row(store_id, file_id)
        if row is None:
            return None
        for name, value in changes.items():
            if name in ("store_id", "file_id") or name not in VectorFileRecord.__dataclass_fields__:
                raise ValueError(f"cannot update field {name!r}")
            setattr(row, name, value)
        self._session.add(row)
        self._session.flush()
        return record_of(VectorFileRecord, row)

    def delete_file(self, store_id: str, file_id: str) -> bool:
        row = self._file_row(store_id, file_id)
        if row is None:
            return False
        self._session.delete(row)
        self._session.flush()
        return True

    def list_files(self, store_id: str, *, status: str | None = None, batch_id: str | None = None,
                   order: str = "desc", after: str | None = None, before: str | None = None,
                   limit: int = 20) -> list[VectorFileRecord]:
        query = select(VectorStoreFile).where(VectorStoreFile.store_id == store_id)
        if status:
            query = query.where(VectorStoreFile.status == status)
        if batch_id:
            query = query.where(VectorStoreFile.batch_id == batch_id)

        def cursor(file_id: str):
            row = self._file_row(store_id, file_id)
            return tuple_(row.created_at, row.file_id) if row else tuple_(func.datetime("now"), file_id)

        query = _page(query, [VectorStoreFile.created_at, VectorStoreFile.file_id], cursor,
                      order, after, before, limit)
        return [record_of(VectorFileRecord, r) for r in self._session.exec(query)]

    def pending_files(self, limit: int = 1000) -> list[VectorFileRecord]:
        query = (select(VectorStoreFile).where(VectorStoreFile.status == "in_progress")
                 .order_by(VectorStoreFile.created_at).limit(limit))
        return [record_of(VectorFileRecord, r) for r in self._session.exec(query)]

    def claim_file(self, store_id: str, file_id: str, now: datetime, until: datetime) -> bool:
        # One conditional UPDATE: of several processes resuming the same file, one wins the lease.
        claimed = self._session.exec(
            update(VectorStoreFile)
            .where(VectorStoreFile.store_id == store_id, VectorStoreFile.file_id == file_id,
                   VectorStoreFile.status == "in_progress",
                   (VectorStoreFile.lease_until.is_(None)) | (VectorStoreFile.lease_until < now))
            .values(lease_until=until))
        return claimed.rowcount == 1

    def stores_with_file(self, file_id: str) -> list[str]:
        query = select(VectorStoreFile.store_id).where(VectorStoreFile.file_id == file_id)
        return list(self._session.exec(query))

    # Batches ----------------------------------------------------------------------------------

    def get_batch(self, batch_id: str) -> VectorFileBatchRecord | None:
        row = self._session.get(VectorFileBatch, batch_id)
        return None if row is None else record_of(VectorFileBatchRecord, row)

    def add_batch(self, record: VectorFileBatchRecord) -> VectorFileBatchRecord:
        self._session.add(VectorFileBatch(**fields_of(record)))
        self._flush("vector store file batch")
        return record

    def update_batch(self, batch_id: str, changes: dict) -> VectorFileBatchRecord | None:
        row = self._session.get(VectorFileBatch, batch_id)
        if row is None:
            return None
        for name, value in changes.items():
            setattr(row, name, value)
        self._session.add(row)
        self._session.flush()
        return record_of(VectorFileBatchRecord, row)



