"""Agent tracing: sessions and event trees, ingested fast and written in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway_app.core.errors import GatehouseError, NotFound
from gateway_app.core.ids import fast_id
from gateway_app.core.logging import get_logger
from gateway_app.core.spill import RecordCodec
from gateway_app.core.batch_writer import BatchWriter
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import TraceEvent, TraceSession, precise_now
from gateway_app.services.fields import StorableJson, StorableObject, UtcDatetime
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess, writing_to

log = get_logger("tracing")
MAX_BODY_BYTES = 1_000_000  # a request above this is refused with 413
MAX_FIELD_CHARS = 32_000  # an input/output above this is kept truncated, with a marker
MAX_TOKENS = 1_000_000_000  # per event; far above any context window, far below 64 bits
MAX_COST_USD = 1_000_000.0
# The gateway's own events (the automatic `llm` event of a request with x-session-id, and its
# guardrail events) have ids in this namespace, which client-chosen ids may not enter: an event
# id seen again replaces the earlier one, so a shared namespace would let a client rewrite what
# the gateway observed. `parent_id` may still point at them.
AUTOMATIC_PREFIX = "gh:"
ID = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
Tag = Annotated[str, Field(max_length=100)]
EventType = Literal["llm", "tool", "retrieval", "guardrail", "custom"]


def automatic_event_id() -> str:
    """A new id for an event the gateway records itself (in the reserved namespace)."""
    return AUTOMATIC_PREFIX + fast_id("evt")


class PayloadTooLarge(GatehouseError):
    """The request body is over the ingestion limit."""

    code = "payload_too_large"
    status = 413


def truncate(value: Any) -> Any:
    """The value, or a string preview ending in a truncation marker when its JSON is too long."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if len(text) <= MAX_FIELD_CHARS:
        return value
    return f"{text[:MAX_FIELD_CHARS]}…[truncated {len(text) - MAX_FIELD_CHARS} characters]"


class SessionIn(BaseModel):
    """A session to start."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = ID
    name: str = Field(default="", max_length=300)
    user: str = Field(default="", max_length=300)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    metadata: StorableObject = Field(default_factory=dict)
    started_at: UtcDatetime | None = None


class EventIn(BaseModel):
    """One event of a session."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = ID
    parent_id: str | None = ID
    type: EventType = "custom"
    name: str = Field(default="", max_length=300)
    status: Literal["ok", "error"] = "ok"
    input: StorableJson = None
    output: StorableJson = None
    model: str = Field(default="", max_length=200)
    prompt_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    completion_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    cost_usd: float = Field(default=0.0, ge=0, le=MAX_COST_USD, allow_inf_nan=False)
    metadata: StorableObject = Field(default_factory=dict)
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value is not None and value.lower().startswith(AUTOMATIC_PREFIX):
            raise ValueError(f"ids starting with '{AUTOMATIC_PREFIX}' are reserved for the gateway's own events")
        return value


class EventBatch(BaseModel):
    """Several events at once."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class SessionEnd(BaseModel):
    """End (or update) a session."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["running", "completed", "error"] = "completed"
    ended_at: UtcDatetime | None = None
    metadata: StorableObject = Field(default_factory=dict)
    tags: list[Tag] | None = Field(default=None, max_length=50)


@dataclass(slots=True)
class LlmTrace:
    """Where an automatically traced request belongs (from x-session-id / x-parent-event-id)."""

    session_id: str
    parent_id: str | None
    event_id: str


class TraceRecorder:
    """Ingestion: validated in the request, written by a worker thread in batches."""

    def __init__(self, store: DataStore, max_queue: int = 100_000, retry_for: float = 120.0) -> None:
        self._store = store
        self.writer: BatchWriter[TraceSession | TraceEvent] = BatchWriter(
            "traces", self._write, codec=RecordCodec(TraceSession, TraceEvent), max_queue=max_queue,
            batch_size=1000, interval=1.0, retry_for=retry_for)

    def start_session(self, tenant: str, data: SessionIn) -> TraceSession:
        """Queue a new session; its id is returned at once."""
        session = TraceSession(id=data.id or fast_id("ses"), name=data.name, user=data.user, tags=list(data.tags),
                               metadata=data.metadata, started_at=data.started_at or precise_now())
        self.writer.submit(tenant, session)
        return session

    def add_events(self, tenant: str, session_id: str, events: Sequence[EventIn]) -> list[str]:
        """Queue events; an unknown session is created with them (events may arrive first)."""
        ids = []
        for data in events:
            event = TraceEvent(
                id=data.id or fast_id("evt"), session_id=session_id, type=data.type, name=data.name,
                parent_id=data.parent_id, status=data.status, input=truncate(data.input), output=truncate(data.output),
                model=data.model, prompt_tokens=data.prompt_tokens, completion_tokens=data.completion_tokens,
                cost_usd=data.cost_usd, metadata=data.metadata, started_at=data.started_at or precise_now(),
                ended_at=data.ended_at)
            self.writer.submit(tenant, event)
            ids.append(event.id)
        return ids

    def end_session(self, tenant: str, session_id: str, data: SessionEnd) -> TraceSession:
        """Queue the end (or update) of a session; returns the update as queued."""
        ended = data.ended_at or (precise_now() if data.status != "running" else None)
        update = TraceSession(id=session_id, status=data.status, ended_at=ended, metadata=data.metadata,
                              tags=list(data.tags or []))
        self.writer.submit(tenant, update)
        return update

    def record(self, tenant: str, event: TraceEvent) -> None:
        """Queue an event built by the gateway itself (llm calls, guardrail verdicts)."""
        event.input, event.output = truncate(event.input), truncate(event.output)
        self.writer.submit(tenant, event)

    def _write(self, tenant: str, items: list[TraceSession | TraceEvent]) -> None:
        with writing_to(self._store, tenant) as uow:
            events: list[TraceEvent] = []
            for item in items:
                if isinstance(item, TraceEvent):
                    events.append(item)
                else:
                    uow.traces.save_session(item)
            for session_id in {e.session_id for e in events}:
                started = min(e.started_at for e in events if e.session_id == session_id)
                uow.traces.save_session(TraceSession(id=session_id, name=session_id, started_at=started),
                                        create_only=True)
            uow.traces.add_events(events)
            uow.commit()


class SessionSummary(BaseModel):
    """A session in the list, with totals."""

    id: str
    name: str
    user: str
    status: str
    tags: list[str]
    metadata: dict
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    events: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    last_activity_at: datetime  # the session's start or its latest event
    idle: bool = False  # running, but nothing new for TRACE_IDLE_MINUTES


class EventOut(BaseModel):
    """An event, with its children when returned as a tree."""

    id: str
    parent_id: str | None
    type: str
    name: str
    status: str
    input: Any
    output: Any
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    metadata: dict
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    orphan: bool = False
    children: list[EventOut] = []


class SessionDetail(SessionSummary):
    """A session with its events, flat (by start time) and as a tree."""

    event_list: list[EventOut]
    tree: list[EventOut]


class SessionPage(BaseModel):
    """A page of sessions."""

    items: list[SessionSummary]
    total: int


def _ms(start: datetime, end: datetime | None) -> float | None:
    return round((end - start).total_seconds() * 1000, 2) if end else None


def _summary(session: TraceSession, totals: dict, idle_before: datetime) -> dict:
    # A session nobody closed is "running" for ever; one with nothing new since `idle_before` is idle.
    last = max((t for t in (totals.pop("last_event_at", None), session.started_at) if t is not None),
               default=session.started_at)
    idle = session.status == "running" and session.ended_at is None and _aware(last) < _aware(idle_before)
    return dict(id=session.id, name=session.name, user=session.user, status=session.status, tags=session.tags,
                metadata=session.metadata, started_at=session.started_at, ended_at=session.ended_at,
                duration_ms=_ms(session.started_at, session.ended_at), last_activity_at=last, idle=idle, **totals)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_tree(events: list[EventOut]) -> list[EventOut]:
    """Nest events under their parents; an event whose parent is unknown is a root marked orphan."""
    by_id = {e.id: e.model_copy(update={"children": []}) for e in events}
    roots = []
    for event in by_id.values():
        parent = by_id.get(event.parent_id) if event.parent_id else None
        if parent is None or parent is event:
            event.orphan = bool(event.parent_id)
            roots.append(event)
        else:
            parent.children.append(event)
    return roots


class TraceQueries:
    """Reading sessions for the management API and the console."""

    def __init__(self, access: TenantAccess, idle_after: timedelta = timedelta(minutes=30)) -> None:
        self._access = access
        self._idle_after = idle_after

    def list(self, actor: Principal, tenant: str | None, *, since: datetime | None = None,
             until: datetime | None = None, user: str | None = None, tag: str | None = None,
             status: str | None = None, search: str | None = None, offset: int = 0, limit: int = 50) -> SessionPage:
        """Newest sessions first, filtered."""
        filters = dict(since=since, until=until, user=user or None, tag=tag or None, status=status or None,
                       search=(search or "").strip() or None)
        with self._access.open(actor, tenant) as uow:
            rows = uow.traces.list_sessions(offset=offset, limit=limit, **filters)
            total = uow.traces.count_sessions(**filters)
        now = precise_now()
        return SessionPage(items=[SessionSummary(**_summary(s, t, now - self._idle_after)) for s, t in rows],
                           total=total)

    def get(self, actor: Principal, tenant: str | None, session_id: str) -> SessionDetail:
        """One session with its event tree and totals."""
        with self._access.open(actor, tenant) as uow:
            session = uow.traces.get_session(session_id)
            events = uow.traces.events(session_id) if session else []
        if session is None:
            raise NotFound(f"trace session {session_id!r} not found")
        flat = [EventOut(id=e.id, parent_id=e.parent_id, type=e.type, name=e.name, status=e.status, input=e.input,
                         output=e.output, model=e.model, prompt_tokens=e.prompt_tokens,
                         completion_tokens=e.completion_tokens, cost_usd=e.cost_usd, metadata=e.metadata,
                         started_at=e.started_at, ended_at=e.ended_at, duration_ms=_ms(e.started_at, e.ended_at))
                for e in events]
        totals = {"events": len(flat), "errors": sum(e.status == "error" for e in flat),
                  "prompt_tokens": sum(e.prompt_tokens for e in flat),
                  "completion_tokens": sum(e.completion_tokens for e in flat),
                  "cost_usd": round(sum(e.cost_usd for e in flat), 8),
                  "last_event_at": max((t for e in flat for t in (e.started_at, e.ended_at) if t is not None),
                                       default=None)}
        return SessionDetail(**_summary(session, totals, precise_now() - self._idle_after), event_list=flat,
                             tree=build_tree(flat))

