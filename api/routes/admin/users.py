"""Users of a tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Limit, Offset, Ref
from gateway_app.services.users import UserCreate, UserCreated, UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut], summary="List users")
def list_users(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
               offset: Offset = 0, limit: Limit = 100) -> list[UserOut]:
    """Users of the tenant."""
    return platform.users.list(principal, tenant, offset=offset, limit=limit)


@router.post("", response_model=UserCreated, status_code=201, summary="Create a user")
def create_user(body: UserCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> UserCreated:
    """Without `password`, one is generated and returned once in `generated_password`."""
    return platform.users.create(principal, tenant, body)


@router.get("/{user_id}", response_model=UserOut, summary="Get a user")
def get_user(user_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> UserOut:
    """One user."""
    return platform.users.get(principal, tenant, user_id)


@router.patch("/{user_id}", response_model=UserOut, summary="Change role, status, name or password")
def update_user(user_id: Ref, body: UserUpdate, platform: PlatformDep, principal: PrincipalDep,
                tenant: TenantDep) -> UserOut:
    """Send only the fields to change; `status: deactivated` ends the user's sessions at once."""
    return platform.users.update(principal, tenant, user_id, body)


@router.delete("/{user_id}", status_code=204, summary="Delete a user")
def delete_user(user_id: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """Remove the user and their login."""
    platform.users.delete(principal, tenant, user_id)
    return Response(status_code=204)
