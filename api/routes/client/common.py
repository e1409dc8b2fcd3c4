"""What the client routes share: the JSON body, the request id, the trace headers, SSE headers."""

from __future__ import annotations

import orjson
from fastapi.responses import Response, StreamingResponse

from gateway_app.core.context import current_context
from gateway_app.core.errors import InvalidInput
from gateway_app.services.inference.gateway import Completed, Streaming
from gateway_app.services.tracing import LlmTrace, automatic_event_id

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def parse_body(body: bytes) -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong."""
    if not body:
        raise InvalidInput("the request body is empty; send a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object")
    return payload


def request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx else ""


def trace_of(headers) -> LlmTrace | None:
    """The trace a request asked to be recorded in (x-session-id, x-parent-event-id)."""
    session_id = headers.get("x-session-id")
    if not session_id:
        return None
    if len(session_id) > 128:
        raise InvalidInput("x-session-id is longer than 128 characters", param="x-session-id")
    parent = headers.get("x-parent-event-id") or None
    return LlmTrace(session_id=session_id, parent_id=parent[:128] if parent else None, event_id=automatic_event_id())


def outcome_response(outcome: Completed | Streaming) -> Response:
    """A whole JSON answer, or a stream of server-sent events."""
    if isinstance(outcome, Completed):
        return Response(outcome.body, media_type="application/json", headers=outcome.headers)
    return StreamingResponse(outcome.chunks, media_type="text/event-stream", headers={**SSE_HEADERS, **outcome.headers})
