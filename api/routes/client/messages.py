"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API for every configured model.

`messages_response` is also served straight from the hot path (see chat.py's ClientHotPath); the
routes below document it in OpenAPI. Errors on these paths have Anthropic's shape (api/errors.py).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ClientDep, PlatformDep
from api.routes.client.common import outcome_response, parse_body, request_id, trace_of
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.platform import Platform
from gateway_app.services.tracing import LlmTrace

router = APIRouter(tags=["client: anthropic messages"])
_OBJECT = {"type": "object", "additionalProperties": True}
_BODY = {"content": {"application/json": {"schema": _OBJECT}}, "required": True}
_ANSWERS = {200: {"description": "A Messages answer; the event stream when stream=true",
                  "content": {"application/json": {"schema": _OBJECT}, "text/event-stream": {"schema": {"type": "string"}}}}}


async def messages_response(platform: Platform, client: ClientIdentity, body: bytes,
                            trace: LlmTrace | None = None) -> Response:
    """The HTTP response to a Messages request."""
    return outcome_response(await platform.messages.create(client, parse_body(body), request_id(), trace))


@router.post("/messages", summary="Create a message (Anthropic Messages API, for any model)", response_model=None,
             openapi_extra={"requestBody": _BODY}, responses=_ANSWERS)
async def create_message(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """Anthropic's request (`model`, `system`, `messages` with text, image, tool_use and tool_result blocks,
    `tools`, `tool_choice`, `max_tokens`, `stop_sequences`, `temperature`, `metadata`, `stream`), translated
    to a chat completion and back. Auth: `x-api-key` (or a bearer token); `anthropic-version` and
    `anthropic-beta` are accepted and ignored."""
    return await messages_response(platform, client, await request.body(), trace_of(request.headers))


@router.post("/messages/count_tokens", summary="Count a message's input tokens (estimate)", response_model=None,
             openapi_extra={"requestBody": _BODY})
async def count_tokens(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """`{input_tokens}`: about 4 characters a token over the messages, system and tools."""
    counted = await platform.messages.count_tokens(client, parse_body(await request.body()))
    return Response(orjson.dumps(counted), media_type="application/json")
