"""POST /v1/chat/completions and /v1/embeddings: bodies read as bytes, forwarded with the model rewritten."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import ClientDep, PlatformDep
from gateway_app.core.context import current_context
from gateway_app.core.errors import InvalidInput
from gateway_app.services.inference.gateway import Completed

router = APIRouter(tags=["client: inference"])

_OBJECT_BODY = {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
                "required": True}
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def read_json(request: Request) -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong."""
    body = await request.body()
    if not body:
        raise InvalidInput("the request body is empty; send a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object")
    return payload


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx else ""


@router.post("/chat/completions", summary="Create a chat completion (OpenAI-compatible, SSE when stream=true)",
             openapi_extra={"requestBody": _OBJECT_BODY}, response_model=None)
async def chat_completions(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """The body is OpenAI's; unknown fields are passed to the provider untouched."""
    outcome = await platform.inference.chat(client, await read_json(request), _request_id())
    if isinstance(outcome, Completed):
        return Response(outcome.body, media_type="application/json", headers=outcome.headers)
    return StreamingResponse(outcome.chunks, media_type="text/event-stream",
                             headers={**_SSE_HEADERS, **outcome.headers})


@router.post("/embeddings", summary="Create embeddings (OpenAI-compatible)",
             openapi_extra={"requestBody": _OBJECT_BODY}, response_model=None)
async def embeddings(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """`input` is a string or an array; `encoding_format` and `dimensions` are passed through."""
    outcome = await platform.inference.embeddings(client, await read_json(request), _request_id())
    return Response(outcome.body, media_type="application/json", headers=outcome.headers)
