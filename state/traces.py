"""Tracing viewer: session list with filters; a session's event tree, waterfall and payloads."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import counted, failure, platform
from state.session import SessionState

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclasses.dataclass
class SessionRow:
    """One session in the list."""

    id: str = ""
    name: str = ""
    user: str = ""
    status: str = ""
    tags: str = ""
    started: str = ""
    duration: str = ""
    events: int = 0
    tokens: int = 0
    cost: str = ""


@dataclasses.dataclass
class EventRow:
    """One event of the tree, flattened with its depth and its place on the timeline."""

    id: str = ""
    type: str = ""
    name: str = ""
    status: str = ""
    depth: int = 0
    duration: str = ""
    tokens: str = ""
    cost: str = ""
    offset_pct: float = 0.0
    width_pct: float = 1.0
    input: str = ""
    output: str = ""
    metadata: str = ""
    orphan: bool = False


def _pretty(value) -> str:
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _duration(ms: float | None) -> str:
    if ms is None:
        return "running"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


class TracesState(SessionState):
    """State of /traces."""

    rows: list[SessionRow] = []
    total: int = 0
    loading: bool = False
    range: str = "24h"
    user: str = ""
    tag: str = ""
    status: str = "all"
    search: str = ""

    @rx.event
    async def load(self):
        """Sessions matching the filters."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            since = datetime.now(UTC) - RANGES[self.range] if self.range in RANGES else None
            page = await self.tenant_call(platform().traces.list, since=since, user=self.user.strip() or None,
                                          tag=self.tag.strip() or None,
                                          status=None if self.status == "all" else self.status,
                                          search=self.search, limit=100)
        except GatehouseError as exc:
            yield failure(exc)
            return
        finally:
            self.loading = False
        self.total = page.total
        self.rows = [SessionRow(id=s.id, name=s.name or s.id, user=s.user or "-", status="idle" if s.idle else s.status,
                                tags=", ".join(s.tags), started=s.started_at.strftime("%m-%d %H:%M:%S"),
                                duration=_duration(s.duration_ms) if s.ended_at else ("idle" if s.idle else "running"),
                                events=s.events,
                                tokens=s.prompt_tokens + s.completion_tokens, cost=f"${s.cost_usd:.6f}")
                     for s in page.items]

    @rx.var
    def total_label(self) -> str:
        """'1 session', '3 sessions'."""
        return counted(self.total, "session")

    @rx.event
    async def set_filter(self, name: str, value: str):
        """Change a filter and reload."""
        setattr(self, name, value)
        yield TracesState.load


class TraceDetailState(SessionState):
    """State of /trace?session=<id>."""

    session_id: str = ""
    name: str = ""
    status: str = ""
    user: str = ""
    tags: str = ""
    started: str = ""
    duration: str = ""
    totals: str = ""
    events: list[EventRow] = []
    expanded: str = ""
    missing: str = ""
    loading: bool = False

    @rx.event
    async def load(self):
        """The session named in the query string."""
        self.session_id = self.router.url.query_parameters.get("session", "")
        # A session's link names its tenant, so a platform admin can open a shared link as it is.
        tenant = self.router.url.query_parameters.get("tenant", "")
        if self.is_platform_admin and tenant in self.tenant_choices and tenant != self.selected_tenant:
            self.selected_tenant = tenant
        self.expanded, self.missing = "", ""
        if not self.session_id or self.tenant_missing:
            self.missing = "No session selected."
            return
        self.loading = True
        yield
        try:
            detail = await self.tenant_call(platform().traces.get, self.session_id)
        except GatehouseError as exc:
            self.missing, self.events = exc.message, []
            return
        finally:
            self.loading = False
        self.name, self.user = detail.name or detail.id, detail.user or "-"
        self.status = "idle" if detail.idle else detail.status
        self.tags = ", ".join(detail.tags)
        self.started = detail.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        self.duration = _duration(detail.duration_ms) if detail.ended_at else ("idle" if detail.idle else "running")
        self.totals = (f"{counted(detail.events, 'event')} · {counted(detail.errors, 'error')} · "
                       f"{detail.prompt_tokens + detail.completion_tokens} tokens · ${detail.cost_usd:.6f}")
        starts = [e.started_at for e in detail.event_list]
        ends = [e.ended_at or e.started_at for e in detail.event_list]
        origin = min(starts, default=detail.started_at)
        span = max(((max(ends) - origin).total_seconds() if ends else 0.0), 0.001)
        rows: list[EventRow] = []
        session_open = detail.ended_at is None and not detail.idle

        def walk(nodes, depth: int) -> None:
            for node in nodes:
                offset = (node.started_at - origin).total_seconds() / span * 100
                length = ((node.ended_at or node.started_at) - node.started_at).total_seconds() / span * 100
                tokens = node.prompt_tokens + node.completion_tokens
                rows.append(EventRow(
                    id=node.id, type=node.type, name=node.name or node.id, status=node.status, depth=depth,
                    # An event sent without an end inside a finished session never ran on: no duration.
                    duration=_duration(node.duration_ms) if node.duration_ms is not None or session_open else "-",
                    tokens=str(tokens) if tokens else "",
                    cost=f"${node.cost_usd:.6f}" if node.cost_usd else "", offset_pct=round(min(offset, 99.5), 2),
                    width_pct=round(max(length, 0.5), 2), input=_pretty(node.input), output=_pretty(node.output),
                    metadata=_pretty(node.metadata) if node.metadata else "", orphan=node.orphan))
                walk(node.children, depth + 1)

        walk(detail.tree, 0)
        self.events = rows

    @rx.event
    def toggle(self, event_id: str):
        """Expand or collapse an event's payloads."""
        self.expanded = "" if self.expanded == event_id else event_id
