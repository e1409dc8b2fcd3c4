"""/v1 prompts rendering, guardrail checks and agent-trace ingestion."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import ClientDep, PlatformDep
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
async def render_prompt(name: str, body: RenderRequest, client: ClientDep, platform: PlatformDep) -> Rendered:
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


@router.post("/tracing/sessions", status_code=202, summary="Start a trace session")
async def start_session(request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """Accepted at once and written in a batch; the id is yours to reuse (or pass your own `id`)."""
    data = await _body(request, SessionIn)
    session = platform.trace_recorder.start_session(client.tenant_slug, data)
    return {"id": session.id, "object": "trace.session", "started_at": session.started_at.isoformat()}


@router.post("/tracing/sessions/{session_id}/events", status_code=202, summary="Add events (one, or {events: [...]})")
async def add_events(session_id: str, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """Events form a tree through `parent_id`; inputs and outputs over 32k characters are truncated."""
    raw = await request.body()
    events: list[EventIn]
    if b'"events"' in raw[:200]:
        events = (await _body(request, EventBatch)).events
    else:
        events = [await _body(request, EventIn)]
    ids = platform.trace_recorder.add_events(client.tenant_slug, session_id, events)
    return {"session_id": session_id, "ids": ids}


@router.patch("/tracing/sessions/{session_id}", status_code=202, summary="End or update a session")
async def end_session(session_id: str, request: Request, client: ClientDep, platform: PlatformDep) -> Response:
    """Default `status`: completed, `ended_at`: now."""
    data = await _body(request, SessionEnd)
    platform.trace_recorder.end_session(client.tenant_slug, session_id, data)
    return Response(status_code=202)
