"""GET /v1/models: the models the calling token may use."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ClientDep
from gateway_app.core.errors import NotFound

router = APIRouter(tags=["client: models"])


@router.get("/models", summary="List models (OpenAI-compatible)")
async def list_models(client: ClientDep) -> dict:
    """Models visible to this token. The model catalogue arrives with the providers/models
    feature; until then a tenant has no models and the list is empty."""
    return {"object": "list", "data": []}


@router.get("/models/{model_id:path}", summary="Get a model (OpenAI-compatible)")
async def get_model(model_id: str, client: ClientDep) -> dict:
    """A model visible to this token, else 404 model_not_found."""
    error = NotFound(f"The model '{model_id}' does not exist or you do not have access to it", param="model")
    error.code = "model_not_found"
    raise error
