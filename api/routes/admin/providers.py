"""Providers of a tenant (credentials write-only; shown masked)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Ref
from gateway_app.services.providers import ConnectionTest, ProviderCreate, ProviderOut, ProviderUpdate

router = APIRouter(prefix="/providers", tags=["providers"])


@router.get("", response_model=list[ProviderOut], summary="List providers")
def list_providers(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[ProviderOut]:
    """Providers with masked keys and breaker state."""
    return platform.providers.list(principal, tenant)


@router.post("", response_model=ProviderOut, status_code=201, summary="Configure a provider")
def create_provider(body: ProviderCreate, platform: PlatformDep, principal: PrincipalDep,
                    tenant: TenantDep) -> ProviderOut:
    """The API key is encrypted before it is stored and never returned."""
    return platform.providers.create(principal, tenant, body)


@router.get("/{provider}", response_model=ProviderOut, summary="Get a provider (with its circuit breaker state)")
def get_provider(provider: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> ProviderOut:
    """By id or name."""
    return platform.providers.get(principal, tenant, provider)


@router.patch("/{provider}", response_model=ProviderOut, summary="Change a provider")
def update_provider(provider: Ref, body: ProviderUpdate, platform: PlatformDep, principal: PrincipalDep,
                    tenant: TenantDep) -> ProviderOut:
    """Send `api_key` to replace the key; other fields as needed."""
    return platform.providers.update(principal, tenant, provider, body)


@router.delete("/{provider}", status_code=204, summary="Delete a provider no model uses")
def delete_provider(provider: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """409 while models use it."""
    platform.providers.delete(principal, tenant, provider)
    return Response(status_code=204)


@router.post("/{provider}/test", response_model=ConnectionTest, summary="Test the connection (lists upstream models)")
async def test_provider(provider: Ref, platform: PlatformDep, principal: PrincipalDep,
                        tenant: TenantDep) -> ConnectionTest:
    """Calls the provider's model list with the stored credentials (tenant admins; members get 403)."""
    return await platform.providers.test_connection(principal, tenant, provider)
