"""Guardrail policies of a tenant."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Filter, Ref
from gateway_app.core.config import GUARDRAIL_SCAN_CEILING
from gateway_app.services.guardrails.service import EvaluateResult, PolicyCreate, PolicyOut, PolicyUpdate, VerdictOut

router = APIRouter(prefix="/guardrails", tags=["guardrails"])


class TestRequest(BaseModel):
    """A text to run one policy on."""

    text: str = Field(max_length=GUARDRAIL_SCAN_CEILING, description="at most GUARDRAIL_MAX_SCAN_CHARS: 413 past it")
    direction: Literal["input", "output"] = "input"


@router.get("", response_model=list[PolicyOut], summary="List policies")
def list_policies(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[PolicyOut]:
    """With where each is attached (models, tokens, projects)."""
    return platform.guardrails.list(principal, tenant)


@router.post("", response_model=PolicyOut, status_code=201, summary="Create a policy")
def create_policy(body: PolicyCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> PolicyOut:
    """Rules run in order; attach the policy with a model's, token's or project's `guardrails` field."""
    return platform.guardrails.create(principal, tenant, body)


@router.get("/verdicts", response_model=list[VerdictOut], summary="Recent verdicts (matches only)")
def verdicts(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep, policy: Filter = None,
             limit: int = Query(50, ge=1, le=500)) -> list[VerdictOut]:
    """Newest first."""
    return platform.guardrails.recent_verdicts(principal, tenant, policy, limit)


@router.get("/{name}", response_model=PolicyOut, summary="Get a policy")
def get_policy(name: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> PolicyOut:
    """By name or id."""
    return platform.guardrails.get(principal, tenant, name)


@router.patch("/{name}", response_model=PolicyOut, summary="Change a policy")
def update_policy(name: Ref, body: PolicyUpdate, platform: PlatformDep, principal: PrincipalDep,
                  tenant: TenantDep) -> PolicyOut:
    """Mode (enforce / shadow), rules, description, enabled."""
    return platform.guardrails.update(principal, tenant, name, body)


@router.delete("/{name}", status_code=204, summary="Delete a policy attached nowhere")
def delete_policy(name: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """409 while attached."""
    platform.guardrails.delete(principal, tenant, name)
    return Response(status_code=204)


@router.post("/{name}/test", response_model=EvaluateResult, summary="Run a policy on a text (records nothing)")
async def test_policy(name: Ref, body: TestRequest, platform: PlatformDep, principal: PrincipalDep,
                      tenant: TenantDep) -> EvaluateResult:
    """The console's live test box."""
    return await platform.guardrails.test(principal, tenant, name, body.text, body.direction)
