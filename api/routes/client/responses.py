"""/v1/responses: OpenAI's Responses API for every configured model (translated to chat completions).

`responses_response` is also served straight from the hot path (see chat.py's ClientHotPath).
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import ClientDep, PlatformDep
from api.params import Ref
from api.routes.client.common import outcome_response, parse_body, request_id, trace_of
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.platform import Platform
from gateway_app.services.tracing import LlmTrace

router = APIRouter(tags=["client: responses"])
_OBJECT = {"type": "object", "additionalProperties": True}
_BODY = {"content": {"application/json": {"schema": _OBJECT}}, "required": True}
_ANSWERS = {200: {"description": "A response object; typed server-sent events when stream=true",
                  "content": {"application/json": {"schema": _OBJECT}, "text/event-stream": {"schema": {"type": "string"}}}}}


def _json(value: dict) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


async def responses_response(platform: Platform, client: ClientIdentity, body: bytes,
                             trace: LlmTrace | None = None) -> Response:
    """The HTTP response to POST /v1/responses."""
    return outcome_response(await platform.responses.create(client, parse_body(body), request_id(), trace))


@router.post("/responses", summary="Create a response (OpenAI Responses API, for any model)", response_model=None,
             openapi_extra={"requestBody": _BODY}, responses=_ANSWERS)
async def create_response(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """`model`, `input` (a string or items: messages, function calls and their outputs), `instructions`,
    `tools` (function and file_search), `tool_choice`, `text.format`, `max_output_tokens`, `temperature`,
    `metadata`, `store`, `previous_response_id`, `include`, `stream`. Hosted tools and unsupported fields
    are a 400 naming them."""
    return await responses_response(platform, client, await request.body(), trace_of(request.headers))


@router.get("/responses/{response_id}", summary="Get a stored response", response_model=None)
async def get_response(response_id: Ref, client: ClientDep, platform: PlatformDep) -> Response:
    """A response created with `store` (the default)."""
    return _json(await platform.responses.get(client, response_id))


@router.delete("/responses/{response_id}", summary="Delete a stored response", response_model=None)
async def delete_response(response_id: Ref, client: ClientDep, platform: PlatformDep) -> Response:
    """Later `previous_response_id` references to it are a 404."""
    return _json(await platform.responses.delete(client, response_id))


@router.get("/responses/{response_id}/input_items", summary="The input items of a stored response",
            response_model=None)
async def input_items(response_id: Ref, client: ClientDep, platform: PlatformDep,
                      limit: Annotated[int, Query(ge=1, le=100)] = 20,
                      order: Literal["asc", "desc"] = "desc",
                      after: Annotated[str | None, Query(max_length=256)] = None) -> Response:
    """A cursor page (`limit`, `order`, `after`) of the items given as this response's input."""
    return _json(await platform.responses.input_items(client, response_id, limit, order, after))
