"""Agent-tracing sessions of a tenant."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Filter, Instant, Limit, Offset, Ref
from gateway_app.services.tracing import SessionDetail, SessionPage

router = APIRouter(prefix="/traces", tags=["tracing"])


@router.get("/sessions", response_model=SessionPage, summary="List sessions")
def list_sessions(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                  since: Instant | None = None, until: Instant | None = None, user: Filter = None,
                  tag: Filter = None, status: Literal["running", "completed", "error"] | None = None,
                  search: Filter = None, offset: Offset = 0, limit: Limit = 50) -> SessionPage:
    """Newest first, with event counts, tokens and cost."""
    return platform.traces.list(principal, tenant, since=since, until=until, user=user, tag=tag, status=status,
                                search=search, offset=offset, limit=limit)


@router.get("/sessions/{session_id}", response_model=SessionDetail, summary="A session with its event tree")
def get_session(session_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> SessionDetail:
    """`event_list` by start time and `tree` nested through parent ids (unknown parents: roots marked orphan)."""
    return platform.traces.get(principal, tenant, session_id)
