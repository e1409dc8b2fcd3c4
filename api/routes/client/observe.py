"""/v1 prompts rendering, guardrail checks and agent-trace ingestion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.deps import ClientDep, PlatformDep
from api.openapi import TOO_LARGE, json_body
from api.params import Ref
from gateway_app.core.errors import NotFound
from gateway_app.services.guardrails.engine import check_scan_size, evaluate
from gateway_app.services.guardrails.service import EvaluateRequest, EvaluateResult, result_of
from gateway_app.services.prompts import Rendered, RenderRequest
from gateway_app.services.tracing import (
    MAX_BODY_BYTES,
    EventBatch,
    EventIn,
    PayloadTooLarge,
    SessionEnd,
    SessionIn,
)

router = APIRouter(tags=["client: prompts, guardrails, tracing"])
SessionId = Annotated[str, Path(min_length=1, max_length=128)]


class SessionAccepted(BaseModel):
    """A session queued for writing."""

    id: str
    object: Literal["trace.session"] = "trace.session"
    started_at: datetime


class EventsAccepted(BaseModel):
    """Events queued for writing, with their ids in the order sent."""

    session_id: str
    ids: list[str]


class SessionUpdateAccepted(BaseModel):
    """A session end (or update) queued for writing."""

    id: str
    object: Literal["trace.session"] = "trace.session"
    status: Literal["running", "completed", "error"]
    ended_at: datetime | None


async def _body(request: Request, model):
    """Validate a body with a size limit (413 past it)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {MAX_BODY_BYTES} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES} bytes")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        # The app's handler turns these into the usual OpenAI-shaped 400 naming the field.
        raise RequestValidationError(exc.errors()) from None


@router.post("/prompts/{name}/render", response_model=Rendered, summary="Render a prompt template")
async def render_prompt(name: Ref, body: RenderRequest, client: ClientDep, platform: PlatformDep) -> Rendered:
    """`version` or `label` (default: the `production` label, else the latest version)."""
    return await platform.prompt_renderer.render(client.tenant_slug, name, body)


@router.post("/guardrails/evaluate", response_model=EvaluateResult, summary="Check a text against guardrails")
async def evaluate_text(body: EvaluateRequest, client: ClientDep, platform: PlatformDep) -> EvaluateResult:
    """Without `policy`, the policies attached to the token (and its project) are used."""
    guarding = platform.guarding
    check_scan_size(len(body.text), guarding.max_scan_chars)  # the same bound as chat text: 413 past it
    if body.policy:
        policies = await guarding.named(client.tenant_slug, (body.policy,))
        if not policies:
            raise NotFound(f"guardrail policy '{body.policy}' not found or disabled", param="policy")
    else:
        policies = await guarding.policies(client, ())
    verdict = await evaluate(policies, body.text, body.direction, platform.inference.judge_for(client.tenant_slug))
    return result_of(verdict)


@router.post("/tracing/sessions", status_code=202, summary="Start a trace session", response_model=SessionAccepted,
             responses=TOO_LARGE, openapi_extra=json_body(SessionIn))
async def start_session(request: Request, client: ClientDep, platform: PlatformDep) -> SessionAccepted:
    """Accepted at once and written in a batch; the id is yours to reuse (or pass your own `id`)."""
    data = await _body(request, SessionIn)
    session = platform.trace_recorder.start_session(client.tenant_slug, data)
    return SessionAccepted(id=session.id, started_at=session.started_at)


@router.post("/tracing/sessions/{session_id}/events", status_code=202, summary="Add events (one, or {events: [...]})",
             response_model=EventsAccepted, responses=TOO_LARGE, openapi_extra=json_body(EventIn | EventBatch))
async def add_events(session_id: SessionId, request: Request, client: ClientDep,
                     platform: PlatformDep) -> EventsAccepted:
    """Events form a tree through `parent_id`; inputs and outputs over 32k characters are truncated.
    Ids starting with `gh:` are the gateway's own (its automatic `llm` events): refer to them in
    `parent_id`, never as an event's `id`."""
    raw = await request.body()
    events: list[EventIn]
    if b'"events"' in raw[:200]:
        events = (await _body(request, EventBatch)).events
    else:
        events = [await _body(request, EventIn)]
    ids = platform.trace_recorder.add_events(client.tenant_slug, session_id, events)
    return EventsAccepted(session_id=session_id, ids=ids)


@router.patch("/tracing/sessions/{session_id}", status_code=202, summary="End or update a session",
              response_model=SessionUpdateAccepted, responses=TOO_LARGE, openapi_extra=json_body(SessionEnd))
async def end_session(session_id: SessionId, request: Request, client: ClientDep,
                      platform: PlatformDep) -> SessionUpdateAccepted:
    """Default `status`: completed, `ended_at`: now (none while `running`)."""
    data = await _body(request, SessionEnd)
    update = platform.trace_recorder.end_session(client.tenant_slug, session_id, data)
    return SessionUpdateAccepted(id=update.id, status=data.status, ended_at=update.ended_at)
