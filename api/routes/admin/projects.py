"""Projects of a tenant."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import PlatformDep, PrincipalDep, TenantDep
from api.params import Limit, Offset, Ref
from gateway_app.services.projects import ProjectCreate, ProjectOut, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("", response_model=list[ProjectOut], summary="List projects")
def list_projects(platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep,
                  offset: Offset = 0, limit: Limit = 100) -> list[ProjectOut]:
    """Projects of the tenant."""
    return platform.projects.list(principal, tenant, offset=offset, limit=limit)


@router.post("", response_model=ProjectOut, status_code=201, summary="Create a project")
def create_project(body: ProjectCreate, platform: PlatformDep, principal: PrincipalDep,
                   tenant: TenantDep) -> ProjectOut:
    """Project names are unique within a tenant."""
    return platform.projects.create(principal, tenant, body)


@router.get("/{project}", response_model=ProjectOut, summary="Get a project by id or name")
def get_project(project: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> ProjectOut:
    """One project."""
    return platform.projects.get(principal, tenant, project)


@router.patch("/{project}", response_model=ProjectOut, summary="Rename or describe a project")
def update_project(project: Ref, body: ProjectUpdate, platform: PlatformDep, principal: PrincipalDep,
                   tenant: TenantDep) -> ProjectOut:
    """Send only the fields to change."""
    return platform.projects.update(principal, tenant, project, body)


@router.delete("/{project}", status_code=204, summary="Delete a project without active tokens")
def delete_project(project: Ref, platform: PlatformDep, principal: PrincipalDep, tenant: TenantDep) -> Response:
    """409 while active tokens belong to it."""
    platform.projects.delete(principal, tenant, project)
    return Response(status_code=204)
