"""SQLite repository of agent-tracing sessions and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import select

from gateway_app.db.json_text import dump_json, load_json
from gateway_app.db.records import TraceEvent, TraceSession
from gateway_app.db.tables.tenant import TracingEvent, TracingSession


def session_record(row: TracingSession) -> TraceSession:
    return TraceSession(id=row.id, name=row.name, user=row.user, status=row.status, tags=list(row.tags),
                        metadata=dict(row.metadata_), started_at=row.started_at, ended_at=row.ended_at)


def event_record(row: TracingEvent) -> TraceEvent:
    return TraceEvent(id=row.id, session_id=row.session_id, type=row.type, name=row.name, parent_id=row.parent_id,
                      status=row.status, input=load_json(row.input), output=load_json(row.output), model=row.model,
                      prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens, cost_usd=row.cost_usd,
                      metadata=dict(row.metadata_), started_at=row.started_at, ended_at=row.ended_at)


class SqlTraceRepository:
    """Sessions and their events."""

    def __init__(self, session) -> None:
        self._session = session

    def save_session(self, record: TraceSession, *, create_only: bool = False) -> None:
        """Insert a session, or update it (name, user, tags, metadata, status, end) unless create_only."""
        row = self._session.get(TracingSession, record.id)
        if row is None:
            self._session.add(TracingSession(id=record.id, name=record.name, user=record.user, status=record.status,
                                             tags=list(record.tags), metadata_=dict(record.metadata),
                                             started_at=record.started_at, ended_at=record.ended_at))
        elif not create_only:
            row.name = record.name or row.name
            row.user = record.user or row.user
            row.status = record.status or row.status
            row.tags = list(record.tags) or row.tags
            row.metadata_ = {**row.metadata_, **record.metadata}
            row.ended_at = record.ended_at or row.ended_at
            self._session.add(row)
        self._session.flush()

    def add_events(self, records: Sequence[TraceEvent]) -> None:
        """Store events (an event id seen again replaces the earlier one: clients may resend)."""
        for record in records:
            row = TracingEvent(id=record.id, session_id=record.session_id, parent_id=record.parent_id,
                               type=record.type, name=record.name, status=record.status, input=dump_json(record.input),
                               output=dump_json(record.output), model=record.model, prompt_tokens=record.prompt_tokens,
                               completion_tokens=record.completion_tokens, cost_usd=record.cost_usd,
                               metadata_=dict(record.metadata), started_at=record.started_at,
                               ended_at=record.ended_at)
            self._session.merge(row)
        self._session.flush()

    def get_session(self, session_id: str) -> TraceSession | None:
        row = self._session.get(TracingSession, session_id)
        return None if row is None else session_record(row)

    def events(self, session_id: str) -> list[TraceEvent]:
        query = select(TracingEvent).where(TracingEvent.session_id == session_id).order_by(
            TracingEvent.started_at, TracingEvent.id)
        return [event_record(r) for r in self._session.exec(query)]

    def _filtered(self, query, since: datetime | None, until: datetime | None, user: str | None, tag: str | None,
                  status: str | None, search: str | None):
        if since is not None:
            query = query.where(TracingSession.started_at >= since)
        if until is not None:
            query = query.where(TracingSession.started_at < until)
        if user:
            query = query.where(TracingSession.user == user)
        if status:
            query = query.where(TracingSession.status == status)
        if tag:
            query = query.where(func.json_extract(TracingSession.tags, "$").like(f'%"{tag}"%'))
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(or_(func.lower(TracingSession.name).like(pattern),
                                    func.lower(TracingSession.id).like(pattern)))
        return query

    def list_sessions(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
                      tag: str | None = None, status: str | None = None, search: str | None = None,
                      offset: int = 0, limit: int = 50) -> list[tuple[TraceSession, dict]]:
        """Newest sessions first, each with its event totals."""
        query = self._filtered(select(TracingSession), since, until, user, tag, status, search)
        rows = list(self._session.exec(
            query.order_by(TracingSession.started_at.desc(), TracingSession.id).offset(offset).limit(limit)))
        ids = [r.id for r in rows]
        totals: dict[str, dict] = {}
        if ids:
            agg = select(TracingEvent.session_id, func.count(), func.sum(TracingEvent.prompt_tokens),
                         func.sum(TracingEvent.completion_tokens), func.sum(TracingEvent.cost_usd),
                         func.sum(func.iif(TracingEvent.status == "error", 1, 0)),
                         func.max(TracingEvent.started_at), func.max(TracingEvent.ended_at)) \
                .where(TracingEvent.session_id.in_(ids)).group_by(TracingEvent.session_id)
            for sid, count, prompt, completion, cost, errors, started, ended in self._session.exec(agg):
                totals[sid] = {"events": int(count), "prompt_tokens": int(prompt or 0),
                               "completion_tokens": int(completion or 0), "cost_usd": float(cost or 0),
                               "errors": int(errors or 0),
                               "last_event_at": max((t for t in (started, ended) if t is not None), default=None)}
        empty = {"events": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "errors": 0,
                 "last_event_at": None}
        return [(session_record(r), totals.get(r.id, empty)) for r in rows]

    def count_sessions(self, *, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
                       tag: str | None = None, status: str | None = None, search: str | None = None) -> int:
        query = self._filtered(select(func.count()).select_from(TracingSession), since, until, user, tag, status,
                               search)
        return int(self._session.exec(query).one())
