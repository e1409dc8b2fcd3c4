"""MongoDB repository of vector stores, their files and file batches (the chunks are in Chroma)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING

from gateway_app.db.mongo.quirks import aggregate_session
from gateway_app.db.mongo.documents import (
    MongoRepository,
    dump_json,
    from_doc,
    set_values,
    to_doc,
    utc_now,
)
from gateway_app.db.records import VectorFileBatchRecord, VectorFileRecord, VectorStoreRecord

STATUSES = ("in_progress", "completed", "cancelled", "failed")
FILE_JSON = ("attributes",)  # set by clients: any keys


def page_query(query: dict, key: str, cursor_doc, order: str, after: str | None, before: str | None) -> tuple:
    """Cursor pagination over (created_at, key): `after`/`before` name an item of the list (its document is
    read with `cursor_doc`); returns the query and the sort."""
    newest_first = order != "asc"
    bounds = []
    for ref, later in ((after, not newest_first), (before, newest_first)):
        if ref is None:
            continue
        doc = cursor_doc(ref)
        at, value = (doc["created_at"], doc[key]) if doc else (utc_now(), ref)
        op = "$gt" if later else "$lt"
        bounds.append({"$or": [{"created_at": {op: at}}, {"created_at": at, key: {op: value}}]})
    if bounds:
        query = {"$and": [query, *bounds]}
    direction = -1 if newest_first else 1
    return query, [("created_at", direction), (key, direction)]


def _file_key(store_id: str, file_id: str) -> str:
    return f"{store_id}/{file_id}"  # store ids are ours (no '/'): the pair is unique


class MongoVectorStoreRepository(MongoRepository[VectorStoreRecord]):
    collection_name, record, json_fields = "vector_indexes", VectorStoreRecord, ("metadata",)

    def __init__(self, db, session) -> None:
        super().__init__(db, session)
        self._files = db["vector_store_files"]
        self._batches = db["vector_file_batches"]

    def list(
        self, *, order: str = "desc", after: str | None = None, before: str | None = None, limit: int = 20
    ) -> list[VectorStoreRecord]:
        query, sort = page_query(
            {}, "_id", lambda ref: self._c.find_one({"_id": ref}, session=self._session), order, after, before
        )
        return self._find(query, sort, limit=limit)

    def delete(self, key: str) -> bool:
        if self._c.find_one({"_id": key}, {"_id": 1}, session=self._session) is None:
            return False
        self._files.delete_many({"store_id": key}, session=self._session)
        self._batches.delete_many({"store_id": key}, session=self._session)
        return super().delete(key)

    def _status_counts(self, match: dict, by_store: bool) -> list[dict]:
        # A joined string, not a compound `_id`: the wire-protocol test server cannot group on a document.
        group = {"$concat": ["$store_id", "|", "$status"]} if by_store else "$status"
        return list(
            self._files.aggregate(
                [{"$match": match}, {"$group": {"_id": group, "n": {"$sum": 1}}}],
                session=aggregate_session(self._session),
            )
        )

    def file_counts(self, store_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        counts = {s: dict.fromkeys(STATUSES, 0) for s in store_ids}
        if store_ids:
            for d in self._status_counts({"store_id": {"$in": list(store_ids)}}, by_store=True):
                store_id, _, status = d["_id"].rpartition("|")
                counts[store_id][status] = int(d["n"])
        return counts

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        return {d["_id"]: int(d["n"]) for d in self._status_counts({"batch_id": batch_id}, by_store=False)}

    # Files ------------------------------------------------------------------------------------

    def _file(self, doc: dict | None) -> VectorFileRecord | None:
        return None if doc is None else from_doc(VectorFileRecord, doc, None, FILE_JSON)

    def get_file(self, store_id: str, file_id: str) -> VectorFileRecord | None:
        return self._file(self._files.find_one({"_id": _file_key(store_id, file_id)}, session=self._session))

    def add_file(self, record: VectorFileRecord) -> VectorFileRecord:
        doc = {"_id": _file_key(record.store_id, record.file_id), **to_doc(record, None, FILE_JSON)}
        self._insert(doc, "vector store file", self._files)
        return record

    def update_file(self, store_id: str, file_id: str, changes: dict) -> VectorFileRecord | None:
        if any(
            name in ("store_id", "file_id") or name not in VectorFileRecord.__dataclass_fields__ for name in changes
        ):
            raise ValueError(f"cannot update fields {sorted(changes)!r}")
        values = {k: dump_json(v) if k in FILE_JSON else v for k, v in changes.items()}
        return self._file(set_values(self._files, {"_id": _file_key(store_id, file_id)}, values, self._session))

    def delete_file(self, store_id: str, file_id: str) -> bool:
        return self._files.delete_one({"_id": _file_key(store_id, file_id)}, session=self._session).deleted_count == 1

    def list_files(
        self,
        store_id: str,
        *,
        status: str | None = None,
        batch_id: str | None = None,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> list[VectorFileRecord]:
        query: dict = {"store_id": store_id}
        if status:
            query["status"] = status
        if batch_id:
            query["batch_id"] = batch_id
        query, sort = page_query(
            query,
            "file_id",
            lambda ref: self._files.find_one({"_id": _file_key(store_id, ref)}, session=self._session),
            order,
            after,
            before,
        )
        return [self._file(d) for d in self._files.find(query, session=self._session).sort(sort).limit(limit)]

    def pending_files(self, limit: int = 1000) -> list[VectorFileRecord]:
        cursor = self._files.find({"status": "in_progress"}, session=self._session).sort("created_at", ASCENDING)
        return [self._file(d) for d in cursor.limit(limit)]

    def claim_file(self, store_id: str, file_id: str, now: datetime, until: datetime) -> bool:
        # One conditional update: of several processes resuming the same file, one wins the lease.
        # `$and` spelled out: the wire server mis-groups an `$or` next to other fields (quirks.py).
        free = {
            "$and": [
                {"_id": _file_key(store_id, file_id), "status": "in_progress"},
                {"$or": [{"lease_until": {"$eq": None}}, {"lease_until": {"$lt": now}}]},
            ]
        }
        return set_values(self._files, free, {"lease_until": until}, self._session) is not None

    def stores_with_file(self, file_id: str) -> list[str]:
        return [d["store_id"] for d in self._files.find({"file_id": file_id}, {"store_id": 1}, session=self._session)]

    # Batches ----------------------------------------------------------------------------------

    def get_batch(self, batch_id: str) -> VectorFileBatchRecord | None:
        doc = self._batches.find_one({"_id": batch_id}, session=self._session)
        return None if doc is None else from_doc(VectorFileBatchRecord, doc)

    def add_batch(self, record: VectorFileBatchRecord) -> VectorFileBatchRecord:
        self._insert(to_doc(record), "vector store file batch", self._batches)
        return record

    def update_batch(self, batch_id: str, changes: dict) -> VectorFileBatchRecord | None:
        doc = set_values(self._batches, {"_id": batch_id}, changes, self._session)
        return None if doc is None else from_doc(VectorFileBatchRecord, doc)
