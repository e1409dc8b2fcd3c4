"""POST /v1/chat/completions and /v1/embeddings: bodies read as bytes, forwarded with the model rewritten.

The same handlers serve two ways: `ClientHotPath` calls them straight from the middleware stack
(no FastAPI routing or dependency resolution on the hot path), and the FastAPI routes below
document them in OpenAPI (and serve them if the hot path is not installed).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.deps import ClientDep, PlatformDep
from api.errors import client_error_response
from api.openapi import UPSTREAM_ERRORS
from api.routes.client.common import outcome_response, parse_body, request_id, trace_of
from api.routes.client.messages import messages_response
from api.routes.client.responses import responses_response
from gateway_app.core.errors import GatehouseError
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.platform import Platform
from gateway_app.services.tracing import LlmTrace

router = APIRouter(tags=["client: inference"])

_OBJECT_BODY = {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
                "required": True}
_OBJECT = {"type": "object", "additionalProperties": True}
_CHAT_RESPONSES = {200: {"description": "The upstream's answer (model name rewritten); SSE when stream=true",
                         "content": {"application/json": {"schema": _OBJECT},
                                     "text/event-stream": {"schema": {"type": "string"}}}}, **UPSTREAM_ERRORS}
_EMBEDDINGS_RESPONSES = {200: {"description": "The upstream's answer (model name rewritten)",
                               "content": {"application/json": {"schema": _OBJECT}}}, **UPSTREAM_ERRORS}


async def _answer(platform: Platform, client: ClientIdentity, payload: dict, rid: str, trace: LlmTrace | None):
    if "rag" in payload:  # grounded in a RAG module's sources (extension)
        return await platform.rag.ground_chat(client, payload, rid, trace)
    return await platform.inference.chat(client, payload, rid, trace)


async def chat_response(platform: Platform, client: ClientIdentity, body: bytes, trace: LlmTrace | None = None
                        ) -> Response:
    """The HTTP response to a chat completion request."""
    payload = parse_body(body)
    if "memory" in payload:  # recall from (and write back to) a memory store (extension)
        rid = request_id()
        outcome = await platform.memory_chat.chat(client, payload, trace,
                                                  lambda p: _answer(platform, client, p, rid, trace))
    else:
        outcome = await _answer(platform, client, payload, request_id(), trace)
    return outcome_response(outcome)


async def embeddings_response(platform: Platform, client: ClientIdentity, body: bytes,
                              trace: LlmTrace | None = None) -> Response:
    """The HTTP response to an embeddings request."""
    outcome = await platform.inference.embeddings(client, parse_body(body), request_id(), trace)
    return Response(outcome.body, media_type="application/json", headers=outcome.headers)


HOT_ROUTES = {"/v1/chat/completions": chat_response, "/v1/embeddings": embeddings_response,
              "/v1/messages": messages_response, "/v1/responses": responses_response}


async def relay_stream(response: StreamingResponse, receive: Receive, send: Send) -> None:
    """Send an SSE response chunk by chunk, stopping (and closing the upstream) if the client leaves.

    Leaner than StreamingResponse.__call__ (which runs a task group per request): one task waits
    for the disconnect message and is checked before each chunk.
    """
    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(wait_disconnect())
    chunks = response.body_iterator
    try:
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        async for chunk in chunks:
            if watcher.done():
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not watcher.done():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()
        await chunks.aclose()  # type: ignore[attr-defined]  # records usage, releases the upstream


class ClientHotPath:
    """Serves the hot POST routes directly; everything else goes on to the FastAPI app."""

    def __init__(self, app, holder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = HOT_ROUTES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(self.holder.platform, scope["state"]["client"], await request.body(),
                                     trace_of(request.headers))
        except GatehouseError as exc:
            response = client_error_response(scope["path"], exc)
        if isinstance(response, StreamingResponse):
            await relay_stream(response, receive, send)
        else:
            await response(scope, receive, send)


@router.post("/chat/completions", summary="Create a chat completion (OpenAI-compatible, SSE when stream=true)",
             openapi_extra={"requestBody": _OBJECT_BODY}, response_model=None, responses=_CHAT_RESPONSES)
async def chat_completions(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """The body is OpenAI's; unknown fields are passed to the provider untouched. Extensions:
    `prompt: {name, version | label, variables}` renders a stored prompt into the messages;
    header `x-session-id` (and `x-parent-event-id`) records the call as an `llm` trace event."""
    return await chat_response(platform, client, await request.body(), trace_of(request.headers))


@router.post("/embeddings", summary="Create embeddings (OpenAI-compatible)",
             openapi_extra={"requestBody": _OBJECT_BODY}, response_model=None, responses=_EMBEDDINGS_RESPONSES)
async def embeddings(request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """`input` is a string or an array; `encoding_format` and `dimensions` are passed through."""
    return await embeddings_response(platform, client, await request.body(), trace_of(request.headers))
