"""Usage: aggregates from the hourly roll-ups, and the recent requests."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Filter, Instant, Limit, Offset
from gateway_app.services.inference.usage import UsageRequest, UsageSummary

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("", response_model=UsageSummary, summary="Usage totals grouped by model, token, project, day or hour")
def usage_summary(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                  start: Instant | None = Query(None, alias="from", description="default: 24 hours ago"),
                  end: Instant | None = Query(None, alias="to", description="default: now"),
                  group_by: Literal["model", "token", "project", "day", "hour"] = "model") -> UsageSummary:
    """Requests, errors, guardrail blocks, tokens, cost and latency per group (read from hourly roll-ups)."""
    return platform.usage.summary(principal, tenant, start, end, group_by)


@router.get("/requests", response_model=list[UsageRequest], summary="Recent requests")
def usage_requests(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                   model: Filter = None, token_id: Filter = None,
                   status: Literal["ok", "error", "blocked"] | None = None,
                   rag_module: Filter = None, memory_store: Filter = None,
                   offset: Offset = 0, limit: Limit = 50) -> list[UsageRequest]:
    """Newest first, one row per request (a RAG module's query embedding, rerank and answer are rows of it;
    so are a memory store's extraction, decision and embedding calls)."""
    return platform.usage.recent(principal, tenant, model=model, token_id=token_id, status=status,
                                 rag_module=rag_module, memory_store=memory_store, offset=offset, limit=limit)
