"""Memory stores of a tenant and their memories (licence feature `memory`): the console's operations.

Browsing and editing act as the console user (`console:<user>` in history and usage); searching
embeds the query with the store's model, so it needs write access like the playground.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Limit, Offset, Ref
from api.routes.client.common import parse_body
from gateway_app.services.memory.stores import MemoryStoreCreate, MemoryStoreOut, MemoryStoreUpdate

router = APIRouter(prefix="/memory-stores", tags=["memory stores"])
Scope = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=256)]
PageLimit = Annotated[int, Query(ge=1, le=100)]


@router.get("", response_model=list[MemoryStoreOut], summary="List memory stores")
def list_stores(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                offset: Offset = 0, limit: Limit = 100) -> list[MemoryStoreOut]:
    """Stores of the tenant, by name, with their memory counts."""
    return platform.memory_stores.list(principal, tenant, offset=offset, limit=limit)


@router.post("", response_model=MemoryStoreOut, status_code=201, summary="Create a memory store")
def create_store(body: MemoryStoreCreate, platform: PlatformDep, principal: PrincipalDep,
                 tenant: TenantDep) -> MemoryStoreOut:
    """The embedding and extraction models (and the prompt) must exist in the tenant (422 naming them)."""
    return platform.memory_stores.create(principal, tenant, body)


@router.get("/{store}", response_model=MemoryStoreOut, summary="Get a memory store by id or name")
def get_store(store: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> MemoryStoreOut:
    """One store."""
    return platform.memory_stores.get(principal, tenant, store)


@router.patch("/{store}", response_model=MemoryStoreOut, summary="Change a memory store")
def update_store(store: Ref, body: MemoryStoreUpdate, platform: PlatformDep, principal: PrincipalDep,
                 tenant: TenantDep) -> MemoryStoreOut:
    """Send only the fields to change; null clears retention_days and prompt."""
    return platform.memory_stores.update(principal, tenant, store, body)


@router.delete("/{store}", status_code=204, summary="Delete a memory store with its memories and history")
def delete_store(store: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """Records, history and vectors go."""
    platform.memory_stores.delete(principal, tenant, store)
    return Response(status_code=204)


@router.get("/{store}/overview", summary="Counters per day and the users, agents and runs of a store")
async def overview(store: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> dict:
    """Adds, updates, deletes and searches per day (14 days), memory count, scopes."""
    identity = platform.memory_stores.console_identity(principal, tenant)
    return await platform.memory.overview(identity, store)


@router.get("/{store}/memories", summary="List memories (newest first, by user, agent or run)")
async def list_memories(store: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                        user_id: Scope = None, agent_id: Scope = None, run_id: Scope = None,
                        limit: PageLimit = 20, after: Cursor = None, before: Cursor = None) -> dict:
    """Cursor pagination like OpenAI's lists."""
    identity = platform.memory_stores.console_identity(principal, tenant)
    return await platform.memory.list(identity, store, {"user_id": user_id, "agent_id": agent_id, "run_id": run_id,
                                                        "limit": limit, "after": after, "before": before})


@router.post("/{store}/memories/search", summary="Search memories of a user, agent or run")
async def search(store: Ref, request: Request, platform: PlatformDep, principal: PrincipalDep,
                 tenant: TenantDep) -> dict:
    """`{query, user_id?, agent_id?, run_id?, filters?, top_k?, threshold?}` as on the client API; a read, so
    members may search too (the query's embedding is a usage record under the console user)."""
    identity = platform.memory_stores.console_identity(principal, tenant)
    return await platform.memory.search(identity, store, parse_body(await request.body()))


@router.get("/{store}/memories/{memory_id}/history", summary="Every change of a memory")
async def history(store: Ref, memory_id: Ref, platform: PlatformDep, principal: PrincipalDep,
                  tenant: TenantDep) -> dict:
    """Events with old and new text, actor and time, oldest first."""
    identity = platform.memory_stores.console_identity(principal, tenant)
    return await platform.memory.history(identity, store, memory_id)


@router.patch("/{store}/memories/{memory_id}", summary="Edit a memory")
async def update_memory(store: Ref, memory_id: Ref, request: Request, platform: PlatformDep,
                        principal: PrincipalDep, tenant: TenantDep) -> dict:
    """`{text?, metadata?}`; history keeps the old text."""
    identity = platform.memory_stores.console_identity(principal, tenant, write=True)
    return await platform.memory.update(identity, store, memory_id, parse_body(await request.body()))


@router.delete("/{store}/memories/{memory_id}", summary="Delete a memory")
async def delete_memory(store: Ref, memory_id: Ref, platform: PlatformDep, principal: PrincipalDep,
                        tenant: TenantDep) -> dict:
    """History keeps what it said."""
    identity = platform.memory_stores.console_identity(principal, tenant, write=True)
    return await platform.memory.delete(identity, store, memory_id)


@router.delete("/{store}/memories", summary="Forget a user")
async def forget(store: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                 user_id: Annotated[str, Query(min_length=1, max_length=200)]) -> dict:
    """The user's memories and vectors go; their history keeps only that a deletion happened."""
    identity = platform.memory_stores.console_identity(principal, tenant, write=True)
    return await platform.memory.forget(identity, store, user_id)
