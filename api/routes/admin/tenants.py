"""Tenants (platform admins)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import PlatformDep, PrincipalDep
from api.params import Limit, Offset, Ref
from gateway_app.services.tenants import TenantCreate, TenantOut, TenantPage, TenantUpdate

router = APIRouter(prefix="/tenants", tags=["tenants"])


@router.get("", response_model=TenantPage, summary="List tenants")
def list_tenants(platform: PlatformDep, principal: PrincipalDep,
                 search: str = Query("", max_length=100), offset: Offset = 0,
                 limit: Limit = 50) -> TenantPage:
    """Tenants whose slug or name contains `search`."""
    return platform.tenants.list(principal, search=search, offset=offset, limit=limit)


@router.post("", response_model=TenantOut, status_code=201, summary="Create a tenant and its database")
def create_tenant(body: TenantCreate, platform: PlatformDep, principal: PrincipalDep) -> TenantOut:
    """Register a tenant; its database is created and migrated before this returns."""
    return platform.tenants.create(principal, body)


@router.get("/{slug}", response_model=TenantOut, summary="Get a tenant")
def get_tenant(slug: Ref, platform: PlatformDep, principal: PrincipalDep) -> TenantOut:
    """One tenant with its license."""
    return platform.tenants.get(principal, slug)


@router.patch("/{slug}", response_model=TenantOut, summary="Change a tenant (license, suspend/resume)")
def update_tenant(slug: Ref, body: TenantUpdate, platform: PlatformDep, principal: PrincipalDep) -> TenantOut:
    """Send only the fields to change; `status: suspended` blocks its tokens and users at once."""
    return platform.tenants.update(principal, slug, body)


@router.delete("/{slug}", status_code=204, summary="Delete a tenant and its database")
def delete_tenant(slug: Ref, platform: PlatformDep, principal: PrincipalDep) -> Response:
    """Irreversible: removes the tenant's database, users and tokens."""
    platform.tenants.delete(principal, slug)
    return Response(status_code=204)
