"""GET /v1/models: the models the calling token may use."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ClientDep, PlatformDep
from api.params import Ref

router = APIRouter(tags=["client: models"])


@router.get("/models", summary="List models (OpenAI-compatible)")
async def list_models(client: ClientDep, platform: PlatformDep) -> dict:
    """Models of the token's tenant that its scopes allow."""
    return {"object": "list", "data": await platform.inference.models(client)}


@router.get("/models/{model_id:path}", summary="Get a model (OpenAI-compatible)")
async def get_model(model_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """A model visible to this token, else 404 model_not_found."""
    return await platform.inference.model(client, model_id)
