"""API tokens of a tenant."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import MAX_FILTER_CHARS, Limit, Offset, Ref
from gateway_app.services.tokens import TokenCreate, TokenCreated, TokenOut

router = APIRouter(prefix="/api-tokens", tags=["api tokens"])


@router.get("", response_model=list[TokenOut], summary="List API tokens (never their secrets)")
def list_tokens(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                project: str | None = Query(None, max_length=MAX_FILTER_CHARS, description="project id or name"),
                offset: Offset = 0, limit: Limit = 100) -> list[TokenOut]:
    """Tokens, newest first."""
    return platform.tokens.list(principal, tenant, project=project, offset=offset, limit=limit)


@router.post("", response_model=TokenCreated, status_code=201, summary="Create an API token")
def create_token(body: TokenCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> TokenCreated:
    """The secret is in `token`, returned this once only; store it now."""
    return platform.tokens.create(principal, tenant, body)


@router.get("/{token_id}", response_model=TokenOut, summary="Get an API token")
def get_token(token_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> TokenOut:
    """One token (no secret)."""
    return platform.tokens.get(principal, tenant, token_id)


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke an API token")
def revoke_token(token_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> TokenOut:
    """Takes effect on the very next request in every process."""
    return platform.tokens.revoke(principal, tenant, token_id)
