"""Typed dependencies shared by the routes.

Cheap dependencies are `async def`: FastAPI runs plain `def` dependencies in the thread pool,
which would cost two thread hops per request on the hot path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway_app.core.context import bind
from gateway_app.core.errors import AuthenticationFailed, Unavailable
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.platform import Platform
from gateway_app.services.principals import Principal


async def get_platform(request: Request) -> Platform:
    """The running platform of this app."""
    platform = request.app.state.holder.platform
    if platform is None:
        raise Unavailable("gateway is starting; retry in a moment")
    return platform


_bearer = HTTPBearer(auto_error=False, description="JWT from POST /admin/v1/auth/login")


def get_principal(
    platform: Annotated[Platform, Depends(get_platform)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The logged-in console/management user (JWT bearer)."""
    if credentials is None:
        raise AuthenticationFailed("missing bearer token: log in at POST /admin/v1/auth/login")
    principal = platform.auth.authenticate(credentials.credentials)
    bind(tenant_id=principal.tenant_slug or "", user_id=principal.user_id)
    return principal


async def get_client(request: Request) -> ClientIdentity:
    """The API-token identity resolved by ClientAuthMiddleware."""
    return request.state.client


async def get_tenant(x_tenant_id: Annotated[str | None, Header(
        max_length=63, description="tenant slug to act on (platform admins); other users act on their own tenant")] = None,
) -> str | None:
    """The tenant the caller asked for with X-Tenant-Id."""
    if x_tenant_id:
        bind(tenant_id=x_tenant_id)
    return x_tenant_id or None


PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
TenantDep = Annotated[str | None, Depends(get_tenant)]
ClientDep = Annotated[ClientIdentity, Depends(get_client)]
