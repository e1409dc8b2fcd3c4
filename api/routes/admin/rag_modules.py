"""RAG modules of a tenant (licence feature `rag`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Limit, Offset, Ref
from gateway_app.services.rag.modules import RagModuleCreate, RagModuleOut, RagModuleUpdate

router = APIRouter(prefix="/rag-modules", tags=["rag modules"])


@router.get("", response_model=list[RagModuleOut], summary="List RAG modules")
def list_modules(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                 offset: Offset = 0, limit: Limit = 100) -> list[RagModuleOut]:
    """Modules of the tenant, by name."""
    return platform.rag_modules.list(principal, tenant, offset=offset, limit=limit)


@router.post("", response_model=RagModuleOut, status_code=201, summary="Create a RAG module")
def create_module(body: RagModuleCreate, platform: PlatformDep, principal: PrincipalDep,
                  tenant: TenantDep) -> RagModuleOut:
    """Stores, model, prompt and rerank model must exist in the tenant (422 naming the one that does not)."""
    return platform.rag_modules.create(principal, tenant, body)


@router.get("/{module}", response_model=RagModuleOut, summary="Get a RAG module by id or name")
def get_module(module: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> RagModuleOut:
    """One module."""
    return platform.rag_modules.get(principal, tenant, module)


@router.patch("/{module}", response_model=RagModuleOut, summary="Change a RAG module")
def update_module(module: Ref, body: RagModuleUpdate, platform: PlatformDep, principal: PrincipalDep,
                  tenant: TenantDep) -> RagModuleOut:
    """Send only the fields to change; null clears prompt, filters and rerank_model."""
    return platform.rag_modules.update(principal, tenant, module, body)


@router.delete("/{module}", status_code=204, summary="Delete a RAG module (its stores stay)")
def delete_module(module: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """The stores and their files are not touched."""
    platform.rag_modules.delete(principal, tenant, module)
    return Response(status_code=204)
