"""/v1/memory_stores/{store}: long-term memories of agents (licence feature `memory`, checked by the
middleware for every /v1/memory path)."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import ClientDep, PlatformDep
from api.params import Ref
from api.routes.client.common import parse_body, trace_of
from gateway_app.core.errors import InvalidInput

router = APIRouter(prefix="/memory_stores", tags=["client: memory"])
Scope = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=256)]
PageLimit = Annotated[int, Query(ge=1, le=100)]
Order = Annotated[Literal["asc", "desc"], Query()]
POLL_AFTER_MS = "200"


@router.post("/{store}/memories", summary="Add memories from messages or a text (202 with async: true)")
async def add(store: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """`{messages | text, user_id?, agent_id?, run_id?, metadata?, infer?, async?}`: every decision
    (`ADD`, `UPDATE`, `DELETE`, `NONE`) in `results`; with `async: true` a job to poll."""
    status, body = await platform.memory.add(client, store, parse_body(await request.body()),
                                             trace_of(request.headers))
    headers = {"openai-poll-after-ms": POLL_AFTER_MS} if status == 202 else None
    return JSONResponse(body, status_code=status, headers=headers)


@router.get("/{store}/add_jobs/{job_id}", summary="An asynchronous add: status and decisions")
async def add_job(store: Ref, job_id: Ref, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """`in_progress`, then `completed` with `results` or `failed` with `error`."""
    body = await platform.memory.job(client, store, job_id)
    headers = {"openai-poll-after-ms": POLL_AFTER_MS} if body["status"] == "in_progress" else None
    return JSONResponse(body, headers=headers)


@router.post("/{store}/memories/search", summary="Search the memories of a user, agent or run")
async def search(store: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """`{query, user_id?, agent_id?, run_id?, filters?, top_k?, threshold?}`: memories with `score`, best first."""
    return await platform.memory.search(client, store, parse_body(await request.body()), trace_of(request.headers))


def _filters(value: str | None) -> object:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise InvalidInput("'filters' must be JSON (the filter object)", param="filters") from None


@router.get("/{store}/memories", summary="List memories (newest first)")
async def list_memories(store: Ref, client: ClientDep, platform: PlatformDep, user_id: Scope = None,
                        agent_id: Scope = None, run_id: Scope = None,
                        filters: Annotated[str | None, Query(max_length=8000)] = None, limit: PageLimit = 20,
                        order: Order = "desc", after: Cursor = None,
                        before: Cursor = None) -> dict:
    """By scope and metadata filters (JSON), cursor pagination like OpenAI's lists."""
    return await platform.memory.list(client, store, {
        "user_id": user_id, "agent_id": agent_id, "run_id": run_id, "filters": _filters(filters), "limit": limit,
        "order": order, "after": after, "before": before})


@router.delete("/{store}/memories", summary="Forget a user: their memories and vectors go")
async def forget(store: Ref, client: ClientDep, platform: PlatformDep,
                 user_id: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    """History keeps only a FORGET event per memory, without text."""
    return await platform.memory.forget(client, store, user_id)


@router.get("/{store}/memories/{memory_id}", summary="Get a memory")
async def get_memory(store: Ref, memory_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """One memory."""
    return await platform.memory.get(client, store, memory_id)


@router.patch("/{store}/memories/{memory_id}", summary="Edit a memory's text or metadata")
async def update_memory(store: Ref, memory_id: Ref, request: Request, client: ClientDep,
                        platform: PlatformDep) -> dict:
    """`{text?, metadata?}`; a new text is embedded again, history keeps the old one."""
    return await platform.memory.update(client, store, memory_id, parse_body(await request.body()))


@router.delete("/{store}/memories/{memory_id}", summary="Delete a memory")
async def delete_memory(store: Ref, memory_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """The record and vector go; history keeps its text."""
    return await platform.memory.delete(client, store, memory_id)


@router.get("/{store}/memories/{memory_id}/history", summary="Every change of a memory")
async def history(store: Ref, memory_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """Events (ADD, UPDATE, DELETE, EXPIRE, FORGET) with old and new text, actor and time, oldest first."""
    return await platform.memory.history(client, store, memory_id)
