"""Models of a tenant: public names, where they go, prices, limits, fallbacks."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Ref
from gateway_app.services.models import ModelCreate, ModelOut, ModelUpdate

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelOut], summary="List models")
def list_models(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[ModelOut]:
    """Every model of the tenant."""
    return platform.models.list(principal, tenant)


@router.post("", response_model=ModelOut, status_code=201, summary="Publish a model")
def create_model(body: ModelCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> ModelOut:
    """`name` is what clients send as `model`."""
    return platform.models.create(principal, tenant, body)


@router.get("/{model:path}", response_model=ModelOut, summary="Get a model")
def get_model(model: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> ModelOut:
    """By id or name."""
    return platform.models.get(principal, tenant, model)


@router.patch("/{model:path}", response_model=ModelOut, summary="Change a model")
def update_model(model: Ref, body: ModelUpdate, platform: PlatformDep, principal: PrincipalDep,
                 tenant: TenantDep) -> ModelOut:
    """Send only the fields to change."""
    return platform.models.update(principal, tenant, model, body)


@router.delete("/{model:path}", status_code=204, summary="Retire a model")
def delete_model(model: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """409 while another model falls back to it."""
    platform.models.delete(principal, tenant, model)
    return Response(status_code=204)
