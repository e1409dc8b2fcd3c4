"""MongoDB repository of agent-tracing sessions and events."""

from __future__ import annotations

import re

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
from pymongo import ASCENDING, DESCENDING, ReplaceOne

from gateway_app.db.mongo.quirks import aggregate_session
from gateway_app.db.json_text import dump_json
from gateway_app.db.mongo.documents import from_doc, set_values, to_doc
from gateway_app.db.records import TraceEvent, TraceSession

SESSION_JSON = ("metadata",)
EVENT_JSON = ("input", "output", "metadata")  # sent by agents: any shape, any keys
EMPTY = {"events": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "errors": 0, "last_event_at": None}


def _datetime(value: object) -> datetime | None:
    """A `$max` of dates (some wire-protocol servers answer it as extended-JSON text)."""
    if isinstance(value, str):
        value = orjson.loads(value).get("$date") if value.startswith("{") else value
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None


class MongoTraceRepository:
    """Sessions (`agent_tracing_sessions`) and their events (`agent_tracing_events`)."""

    def __init__(self, db, session) -> None:
        self._sessions = db["agent_tracing_sessions"]
        self._events = db["agent_tracing_events"]
        self._session = session

    def save_session(self, record: TraceSession, *, create_only: bool = False) -> None:
        found = self._sessions.find_one({"_id": record.id}, session=self._session)
        if found is None:
            self._sessions.insert_one(to_doc(record, json_fields=SESSION_JSON), session=self._session)
            return
        if create_only:
            return
        current = from_doc(TraceSession, found, json_fields=SESSION_JSON)
        changes = {
            "name": record.name or current.name,
            "user": record.user or current.user,
            "status": record.status or current.status,
            "tags": list(record.tags) or current.tags,
            "metadata": dump_json({**current.metadata, **record.metadata}),
            "ended_at": record.ended_at or current.ended_at,
        }
        set_values(self._sessions, {"_id": record.id}, changes, self._session)

    def add_events(self, records: Sequence[TraceEvent]) -> None:
        # An event id seen again replaces the earlier one: clients may resend.
        if records:
            self._events.bulk_write(
                [ReplaceOne({"_id": r.id}, to_doc(r, json_fields=EVENT_JSON), upsert=True) for r in records],
                ordered=True,
                session=self._session,
            )

    def get_session(self, session_id: str) -> TraceSession | None:
        doc = self._sessions.find_one({"_id": session_id}, session=self._session)
        return None if doc is None else from_doc(TraceSession, doc, json_fields=SESSION_JSON)

    def events(self, session_id: str) -> list[TraceEvent]:
        cursor = self._events.find({"session_id": session_id}, session=self._session).sort(
            [("started_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [from_doc(TraceEvent, d, json_fields=EVENT_JSON) for d in cursor]

    @staticmethod
    def _query(since, until, user, tag, status, search) -> dict:
        query: dict = {}
        started: dict = {}
        if since is not None:
            started["$gte"] = since
        if until is not None:
            started["$lt"] = until
        if started:
            query["started_at"] = started
        if user:
            query["user"] = user
        if status:
            query["status"] = status
        if tag:
            query["tags"] = tag
        if search:
            pattern = {"$regex": re.escape(search), "$options": "i"}
            # `$and` spelled out: the wire server mis-groups an `$or` next to other fields (quirks.py).
            return (
                {"$and": [query, {"$or": [{"name": pattern}, {"_id": pattern}]}]}
                if query
                else {"$or": [{"name": pattern}, {"_id": pattern}]}
            )
        return query

    def list_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        search: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[tuple[TraceSession, dict]]:
        """Newest sessions first, each with its event totals."""
        cursor = (
            self._sessions.find(self._query(since, until, user, tag, status, search), session=self._session)
            .sort([("started_at", DESCENDING), ("_id", ASCENDING)])
            .skip(offset)
            .limit(limit)
        )
        sessions = [from_doc(TraceSession, d, json_fields=SESSION_JSON) for d in cursor]
        totals: dict[str, dict] = {}
        if sessions:
            errors = {"$cond": [{"$eq": ["$status", "error"]}, 1, 0]}
            pipeline = [
                {"$match": {"session_id": {"$in": [s.id for s in sessions]}}},
                {
                    "$group": {
                        "_id": "$session_id",
                        "events": {"$sum": 1},
                        "prompt_tokens": {"$sum": "$prompt_tokens"},
                        "completion_tokens": {"$sum": "$completion_tokens"},
                        "cost_usd": {"$sum": "$cost_usd"},
                        "errors": {"$sum": errors},
                        "started": {"$max": "$started_at"},
                        "ended": {"$max": "$ended_at"},
                    }
                },
            ]
            for d in self._events.aggregate(pipeline, session=aggregate_session(self._session)):
                times = [t for t in (_datetime(d.get("started")), _datetime(d.get("ended"))) if t is not None]
                totals[d["_id"]] = {
                    "events": int(d["events"]),
                    "prompt_tokens": int(d["prompt_tokens"] or 0),
                    "completion_tokens": int(d["completion_tokens"] or 0),
                    "cost_usd": float(d["cost_usd"] or 0),
                    "errors": int(d["errors"] or 0),
                    "last_event_at": max(times, default=None),
                }
        return [(s, totals.get(s.id) or dict(EMPTY)) for s in sessions]

    def count_sessions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> int:
        return self._sessions.count_documents(
            self._query(since, until, user, tag, status, search), session=aggregate_session(self._session)
        )
