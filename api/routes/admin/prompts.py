"""Prompts of a tenant: versions, labels, diffs, rendering."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Ref
from gateway_app.services.prompts import (
    MAX_VERSION,
    PromptCreate,
    PromptDiff,
    PromptOut,
    PromptVersionIn,
    Rendered,
    RenderRequest,
)

router = APIRouter(prefix="/prompts", tags=["prompts"])


class LabelTarget(BaseModel):
    """Which version a label points at."""

    version: int = Field(ge=1, le=MAX_VERSION)


@router.get("", response_model=list[PromptOut], summary="List prompts")
def list_prompts(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> list[PromptOut]:
    """Prompts with their labels and latest version."""
    return platform.prompts.list(principal, tenant)


@router.post("", response_model=PromptOut, status_code=201, summary="Create a prompt (version 1)")
def create_prompt(body: PromptCreate, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> PromptOut:
    """Templates are Jinja2 (sandboxed); syntax errors are reported with the message and line."""
    return platform.prompts.create(principal, tenant, body)


@router.get("/{name}", response_model=PromptOut, summary="Get a prompt with every version")
def get_prompt(name: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> PromptOut:
    """Versions newest first, each with the labels pointing at it."""
    return platform.prompts.get(principal, tenant, name)


@router.delete("/{name}", status_code=204, summary="Delete a prompt and its versions")
def delete_prompt(name: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """Irreversible."""
    platform.prompts.delete(principal, tenant, name)
    return Response(status_code=204)


@router.post("/{name}/versions", response_model=PromptOut, status_code=201, summary="Save the next version")
def add_version(name: Ref, body: PromptVersionIn, platform: PlatformDep, principal: PrincipalDep,
                tenant: TenantDep) -> PromptOut:
    """Versions are immutable: this creates N+1 (optionally moving `labels` to it)."""
    return platform.prompts.add_version(principal, tenant, name, body)


@router.put("/{name}/labels/{label}", response_model=PromptOut, summary="Point a label at a version")
def set_label(name: Ref, label: Ref, body: LabelTarget, platform: PlatformDep, principal: PrincipalDep,
              tenant: TenantDep) -> PromptOut:
    """Labels (`production`, `staging`, your own) move only when asked."""
    return platform.prompts.set_label(principal, tenant, name, label, body.version)


@router.delete("/{name}/labels/{label}", response_model=PromptOut, summary="Remove a label")
def delete_label(name: Ref, label: Ref, platform: PlatformDep, principal: PrincipalDep,
                 tenant: TenantDep) -> PromptOut:
    """The versions stay."""
    return platform.prompts.set_label(principal, tenant, name, label, None)


@router.get("/{name}/diff", response_model=PromptDiff, summary="Diff two versions")
def diff(name: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
         from_version: int = Query(alias="from", ge=1, le=MAX_VERSION),
         to_version: int = Query(alias="to", ge=1, le=MAX_VERSION)) -> PromptDiff:
    """A unified diff of messages, model, parameters and variables."""
    return platform.prompts.diff(principal, tenant, name, from_version, to_version)


@router.post("/{name}/render", response_model=Rendered, summary="Render a version (try it)")
def render(name: Ref, body: RenderRequest, platform: PlatformDep, principal: PrincipalDep,
           tenant: TenantDep) -> Rendered:
    """Missing or wrongly typed variables are a 400 naming the variable."""
    return platform.prompts.render(principal, tenant, name, body)
