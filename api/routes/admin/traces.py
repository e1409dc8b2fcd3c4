"""Agent-tracing sessions of a tenant."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from api.deps import PlatformDep, PrincipalDep, TenantDep
from gateway_app.services.tracing import SessionDetail, SessionPage

router = APIRouter(prefix="/traces", tags=["tracing"])


@router.get("/sessions", response_model=SessionPage, summary="List sessions")
def list_sessions(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                  since: datetime | None = None, until: datetime | None = None, user: str | None = None,
                  tag: str | None = None, status: str | None = None, search: str | None = None,
                  offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)) -> SessionPage:
    """Newest first, with event counts, tokens and cost."""
    return platform.traces.list(principal, tenant, since=since, until=until, user=user, tag=tag, status=status,
                                search=search, offset=offset, limit=limit)


@router.get("/sessions/{session_id}", response_model=SessionDetail, summary="A session with its event tree")
def get_session(session_id: str, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> SessionDetail:
    """`event_list` by start time and `tree` nested through parent ids (unknown parents: roots marked orphan)."""
    return platform.traces.get(principal, tenant, session_id)
