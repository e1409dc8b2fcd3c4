"""MongoDB repositories for providers, models, files and usage (request rows + hourly roll-ups)."""

from __future__ import annotations

import re

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne

from gateway_app.db.mongo.quirks import aggregate_session
from gateway_app.db.mongo.documents import MongoRepository, from_doc, to_doc
from gateway_app.db.records import BLOCKED_ERROR_TYPE, FileRecord, ModelRecord, ProviderRecord, UsageRecord, UsageRollup

ROLLUP_KEY = ("hour", "model", "token_id", "project_id")
ROLLUP_SUMS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms_sum", "blocked")


class MongoProviderRepository(MongoRepository[ProviderRecord]):
    collection_name, record, unique, json_fields = "provider_configs", ProviderRecord, ("name",), ("header_hints",)

    def get_by_name(self, name: str) -> ProviderRecord | None:
        return self._one({"name": name})

    def list(self) -> list[ProviderRecord]:
        return self._find({}, [("name", ASCENDING)])


class MongoModelRepository(MongoRepository[ModelRecord]):
    collection_name, record, unique = "models", ModelRecord, ("name",)

    def get_by_name(self, name: str) -> ModelRecord | None:
        return self._one({"name": name})

    def list(self, provider_id: str | None = None) -> list[ModelRecord]:
        return self._find({} if provider_id is None else {"provider_id": provider_id}, [("name", ASCENDING)])


class MongoFileRepository(MongoRepository[FileRecord]):
    collection_name, record = "files", FileRecord

    def list(self, purpose: str | None = None, limit: int = 100) -> list[FileRecord]:
        return self._find({"purpose": purpose} if purpose else {}, [("created_at", DESCENDING)], limit=limit)


def usage_operations(records: Sequence[UsageRecord]) -> list[InsertOne]:
    """Request rows as one insert each (shared with the batch writers' fast path)."""
    return [InsertOne(to_doc(r)) for r in records]


def rollup_operations(rollups: Sequence[UsageRollup]) -> list[UpdateOne]:
    """Roll-up deltas as upserts then `$inc`s: concurrent writers add, none overwrites another's counts."""
    ops = []
    for r in rollups:
        key = {name: getattr(r, name) for name in ROLLUP_KEY}
        # The row is created empty first, then incremented: `$inc` on a path inside a document the
        # same upsert creates is not handled alike by every server.
        ops.append(
            UpdateOne(key, {"$setOnInsert": {**dict.fromkeys(ROLLUP_SUMS, 0), "latency_buckets": {}}}, upsert=True)
        )
        inc = {name: getattr(r, name) for name in ROLLUP_SUMS if getattr(r, name)}
        inc.update({f"latency_buckets.{i}": n for i, n in enumerate(r.latency_buckets) if n})
        if inc:
            ops.append(UpdateOne(key, {"$inc": inc}))
    return ops


def _rollup(doc: dict) -> UsageRollup:
    stored = doc.get("latency_buckets") or {}
    buckets = [0] * (max((int(k) for k in stored), default=-1) + 1)
    for index, n in stored.items():
        buckets[int(index)] = int(n)
    return UsageRollup(
        **{name: doc[name] for name in ROLLUP_KEY},
        **{name: doc.get(name, 0) for name in ROLLUP_SUMS},
        latency_buckets=buckets,
    )


class MongoUsageRepository:
    """Usage rows (`model_usage_logs`) and their hourly roll-ups (`usage_hourly`)."""

    def __init__(self, db, session) -> None:
        self._logs = db["model_usage_logs"]
        self._hourly = db["usage_hourly"]
        self._session = session

    def add_many(self, records: Sequence[UsageRecord]) -> None:
        if records:
            self._logs.bulk_write(usage_operations(records), ordered=False, session=self._session)

    def merge_rollups(self, rollups: Sequence[UsageRollup]) -> None:
        if rollups:
            self._hourly.bulk_write(rollup_operations(rollups), ordered=True, session=self._session)

    @staticmethod
    def _query(model, token_id, status, since, rag_module=None, memory_store=None) -> dict:
        query: dict = {}
        if model:
            query["model"] = model
        if token_id:
            query["token_id"] = token_id
        if status == "ok":
            query["status"] = {"$lt": 400}
        elif status == "error":
            query["status"] = {"$gte": 400}
            query["error_type"] = {"$ne": BLOCKED_ERROR_TYPE}
        elif status == "blocked":
            query["error_type"] = BLOCKED_ERROR_TYPE
        if since is not None:
            query["at"] = {"$gte": since}
        if rag_module:
            query["rag_module"] = rag_module
        if memory_store:
            query["memory_store"] = memory_store
        return query

    def recent(
        self,
        *,
        model: str | None = None,
        token_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        rag_module: str | None = None,
        memory_store: str | None = None,
        offset: int = 0,
        limit: int = 50,
        until: datetime | None = None,
    ) -> list[UsageRecord]:
        query = self._query(model, token_id, status, since, rag_module, memory_store)
        if until is not None:
            query["at"] = {**query.get("at", {}), "$lte": until}
        cursor = (
            self._logs.find(query, session=self._session)
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return [from_doc(UsageRecord, d) for d in cursor]

    def count(
        self,
        *,
        model: str | None = None,
        token_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        rag_module: str | None = None,
        memory_store: str | None = None,
    ) -> int:
        return self._logs.count_documents(
            self._query(model, token_id, status, since, rag_module, memory_store),
            session=aggregate_session(self._session),
        )

    def daily_counts(self, since: datetime, *, memory_store: str, request_prefix: str) -> dict[str, int]:
        match = {
            "memory_store": memory_store,
            "at": {"$gte": since},
            "request_id": {"$regex": "^" + re.escape(request_prefix)},
        }
        pipeline = [
            {"$match": match},
            {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}}, "n": {"$sum": 1}}},
        ]
        return {d["_id"]: int(d["n"]) for d in self._logs.aggregate(pipeline, session=aggregate_session(self._session))}

    def provider_stats(self, since: datetime) -> dict[str, tuple[int, int]]:
        # A guardrail's refusal says nothing about the provider.
        failed = {"$and": [{"$gte": ["$status", 400]}, {"$ne": ["$error_type", BLOCKED_ERROR_TYPE]}]}
        pipeline = [
            {"$match": {"at": {"$gte": since}}},
            {"$group": {"_id": "$provider_id", "n": {"$sum": 1}, "errors": {"$sum": {"$cond": [failed, 1, 0]}}}},
        ]
        return {
            d["_id"]: (int(d["n"]), int(d["errors"]))
            for d in self._logs.aggregate(pipeline, session=aggregate_session(self._session))
        }

    def rollups(self, start: datetime, end: datetime) -> list[UsageRollup]:
        cursor = self._hourly.find({"hour": {"$gte": start, "$lt": end}}, session=self._session).sort("hour", ASCENDING)
        return [_rollup(d) for d in cursor]

    def spend(self, start: datetime, *, token_id: str | None = None, project_id: str | None = None) -> float:
        match: dict = {"hour": {"$gte": start}}
        if token_id is not None:
            match["token_id"] = token_id
        if project_id is not None:
            match["project_id"] = project_id
        pipeline = [{"$match": match}, {"$group": {"_id": None, "cost": {"$sum": "$cost_usd"}}}]
        found = list(self._hourly.aggregate(pipeline, session=aggregate_session(self._session)))
        return float(found[0]["cost"]) if found else 0.0
