"""MongoDB repository of memory stores, their memories, history and asynchronous adds (vectors in Chroma)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING

from gateway_app.db.mongo.quirks import aggregate_session
from gateway_app.db.json_text import dump_json
from gateway_app.db.mongo.documents import MongoRepository, from_doc, set_values, to_doc
from gateway_app.db.mongo.vector_repositories import page_query
from gateway_app.db.records import MemoryEventRecord, MemoryJobRecord, MemoryRecord, MemoryStoreRecord

MEMORY_JSON = ("metadata",)  # set by clients: any keys
JOB_JSON = ("results",)


def _scoped(store_id: str, user_id: str | None, agent_id: str | None, run_id: str | None) -> dict:
    query = {"store_id": store_id}
    for name, value in (("user_id", user_id), ("agent_id", agent_id), ("run_id", run_id)):
        if value:
            query[name] = value
    return query


class MongoMemoryRepository(MongoRepository[MemoryStoreRecord]):
    """Stores by id (get/add/update from the base), memories, history and jobs."""

    collection_name, record, unique = "memory_stores", MemoryStoreRecord, ("name",)

    def __init__(self, db, session) -> None:
        super().__init__(db, session)
        self._memories = db["memories"]
        self._events = db["memory_events"]
        self._jobs = db["memory_jobs"]

    # Stores -----------------------------------------------------------------------------------

    def get_by_name(self, name: str) -> MemoryStoreRecord | None:
        return self._one({"name": name})

    def list(self, offset: int = 0, limit: int = 100) -> list[MemoryStoreRecord]:
        return self._find({}, [("name", ASCENDING)], offset, limit)

    def delete(self, key: str) -> bool:
        if self._c.find_one({"_id": key}, {"_id": 1}, session=self._session) is None:
            return False
        for collection in (self._memories, self._events, self._jobs):
            collection.delete_many({"store_id": key}, session=self._session)
        return super().delete(key)

    # Memories ---------------------------------------------------------------------------------

    def _memory(self, doc: dict | None) -> MemoryRecord | None:
        return None if doc is None else from_doc(MemoryRecord, doc, json_fields=MEMORY_JSON)

    def get_memory(self, memory_id: str) -> MemoryRecord | None:
        return self._memory(self._memories.find_one({"_id": memory_id}, session=self._session))

    def memories_by_id(self, ids: Sequence[str]) -> dict[str, MemoryRecord]:
        if not ids:
            return {}
        docs = self._memories.find({"_id": {"$in": list(ids)}}, session=self._session)
        return {d["_id"]: self._memory(d) for d in docs}

    def add_memory(self, record: MemoryRecord) -> MemoryRecord:
        self._insert(to_doc(record, json_fields=MEMORY_JSON), "memory", self._memories)
        return record

    def update_memory(self, memory_id: str, changes: dict) -> MemoryRecord | None:
        values = {k: dump_json(v) if k in MEMORY_JSON else v for k, v in changes.items()}
        return self._memory(set_values(self._memories, {"_id": memory_id}, values, self._session))

    def delete_memory(self, memory_id: str) -> bool:
        return self._memories.delete_one({"_id": memory_id}, session=self._session).deleted_count == 1

    def find_hash(self, store_id: str, hash_: str, user_id: str, agent_id: str, run_id: str) -> MemoryRecord | None:
        """A memory of exactly this scope with this text hash."""
        return self._memory(
            self._memories.find_one(
                {"store_id": store_id, "hash": hash_, "user_id": user_id, "agent_id": agent_id, "run_id": run_id},
                session=self._session,
            )
        )

    def list_memories(
        self,
        store_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        order: str = "desc",
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> list[MemoryRecord]:
        query, sort = page_query(
            _scoped(store_id, user_id, agent_id, run_id),
            "_id",
            lambda ref: self._memories.find_one({"_id": ref}, session=self._session),
            order,
            after,
            before,
        )
        return [self._memory(d) for d in self._memories.find(query, session=self._session).sort(sort).limit(limit)]

    def count_memories(self, store_id: str, *, user_id: str | None = None) -> int:
        return self._memories.count_documents(
            _scoped(store_id, user_id, None, None), session=aggregate_session(self._session)
        )

    def scope_values(self, store_id: str, column: str, limit: int = 200) -> list[str]:
        """Distinct non-empty user_id, agent_id or run_id values of a store (for the console's browser)."""
        if column not in ("user_id", "agent_id", "run_id"):
            raise ValueError(f"not a scope: {column!r}")
        values = self._memories.distinct(
            column, {"store_id": store_id, column: {"$ne": ""}}, session=aggregate_session(self._session)
        )
        return sorted(v for v in values if v)[:limit]

    def delete_user(self, store_id: str, user_id: str) -> list[str]:
        """Delete a user's memories; their ids."""
        where = {"store_id": store_id, "user_id": user_id}
        ids = [d["_id"] for d in self._memories.find(where, {"_id": 1}, session=self._session)]
        if ids:
            self._memories.delete_many({"_id": {"$in": ids}}, session=self._session)
        return ids

    def expired(self, now: datetime, limit: int = 500) -> list[MemoryRecord]:
        cursor = self._memories.find({"expires_at": {"$ne": None, "$lte": now}}, session=self._session)
        return [self._memory(d) for d in cursor.sort("expires_at", ASCENDING).limit(limit)]

    # History ----------------------------------------------------------------------------------

    def add_events(self, records: Sequence[MemoryEventRecord]) -> None:
        if records:
            self._events.insert_many([to_doc(r) for r in records], ordered=True, session=self._session)

    def history(self, memory_id: str, limit: int = 200) -> list[MemoryEventRecord]:
        cursor = (
            self._events.find({"memory_id": memory_id}, session=self._session)
            .sort([("at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [from_doc(MemoryEventRecord, d) for d in cursor]

    def delete_user_history(self, store_id: str, user_id: str) -> list[str]:
        """Remove a user's history (forgetting a user keeps only the FORGET events written after this); the ids
        of the memories it was the history of."""
        where = {"store_id": store_id, "user_id": user_id}
        ids = sorted(self._events.distinct("memory_id", where, session=aggregate_session(self._session)))
        if ids:
            self._events.delete_many(where, session=self._session)
        return ids

    def daily_events(self, store_id: str, since: datetime) -> dict[str, dict[str, int]]:
        """Events per UTC day and kind."""
        pipeline = [
            {"$match": {"store_id": store_id, "at": {"$gte": since}}},
            # A joined string, not a compound `_id`: the wire-protocol test server cannot group on a document.
            {"$project": {"k": {"$concat": [{"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}}, "|", "$event"]}}},
            {"$group": {"_id": "$k", "n": {"$sum": 1}}},
        ]
        out: dict[str, dict[str, int]] = {}
        for d in self._events.aggregate(pipeline, session=aggregate_session(self._session)):
            day, _, event = d["_id"].partition("|")
            out.setdefault(day, {})[event] = int(d["n"])
        return out

    # Asynchronous adds ------------------------------------------------------------------------

    def _job(self, doc: dict | None) -> MemoryJobRecord | None:
        return None if doc is None else from_doc(MemoryJobRecord, doc, json_fields=JOB_JSON)

    def add_job(self, record: MemoryJobRecord) -> MemoryJobRecord:
        self._insert(to_doc(record, json_fields=JOB_JSON), "memory job", self._jobs)
        return record

    def get_job(self, job_id: str) -> MemoryJobRecord | None:
        return self._job(self._jobs.find_one({"_id": job_id}, session=self._session))

    def update_job(self, job_id: str, changes: dict) -> MemoryJobRecord | None:
        values = {k: dump_json(v) if k in JOB_JSON else v for k, v in changes.items()}
        return self._job(set_values(self._jobs, {"_id": job_id}, values, self._session))

    def stale_jobs(self, before: datetime, limit: int = 100) -> list[MemoryJobRecord]:
        cursor = self._jobs.find({"status": "in_progress", "created_at": {"$lt": before}}, session=self._session)
        return [self._job(d) for d in cursor.limit(limit)]
