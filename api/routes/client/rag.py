"""/v1/rag/{module}: grounded answers with citations, and retrieval alone (licence feature `rag`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import ClientDep, PlatformDep
from api.params import Ref
from api.routes.client.common import SSE_HEADERS, parse_body, request_id, trace_of
from gateway_app.services.inference.gateway import Completed

router = APIRouter(prefix="/rag", tags=["client: rag"])


@router.post("/{module}/query", summary="Answer from a RAG module's sources, with citations (SSE when stream=true)")
async def query(module: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """`{query, messages?, filters?, top_k?, stream?}`: a chat completion plus `citations`, which the answer
    cites as [1], [2]; a stream sends the citations in its first chunk, before any token. With
    `x-session-id` the retrieval, the rerank and the answer are events of that trace session."""
    outcome = await platform.rag.query(client, module, parse_body(await request.body()), request_id(),
                                       trace_of(request.headers))
    if isinstance(outcome, Completed):
        return Response(outcome.body, media_type="application/json", headers=outcome.headers)
    return StreamingResponse(outcome.chunks, media_type="text/event-stream", headers={**SSE_HEADERS, **outcome.headers})


@router.post("/{module}/retrieve", summary="The ranked chunks of a RAG module for a query (no model call)")
async def retrieve(module: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """`{query, filters?, top_k?}`: citations, best first."""
    return await platform.rag.retrieve(client, module, parse_body(await request.body()), trace_of(request.headers))
