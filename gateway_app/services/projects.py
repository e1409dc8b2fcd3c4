"""Projects group API tokens (and later budgets and guardrails) inside a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.core.errors import Conflict, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import ProjectRecord
from gateway_app.services import audit
from gateway_app.services.guardrails.service import check_policy_names
from gateway_app.services.licenses import QuotaLimits
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

ProjectName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")]


class ProjectCreate(BaseModel):
    """Input to create a project."""

    model_config = ConfigDict(extra="forbid")

    name: ProjectName
    description: str = Field(default="", max_length=1000)
    limits: QuotaLimits = Field(default_factory=QuotaLimits)
    guardrails: list[str] = Field(default_factory=list)


class ProjectUpdate(BaseModel):
    """Changes to a project."""

    model_config = ConfigDict(extra="forbid")

    name: ProjectName | None = None
    description: str | None = Field(default=None, max_length=1000)
    limits: QuotaLimits | None = None
    guardrails: list[str] | None = None


class ProjectOut(BaseModel):
    """A project."""

    id: str
    name: str
    description: str
    limits: QuotaLimits
    guardrails: list[str]
    created_at: datetime

    @classmethod
    def of(cls, record: ProjectRecord) -> ProjectOut:
        """Build from a stored record."""
        return cls(id=record.id, name=record.name, description=record.description,
                   limits=QuotaLimits(**record.limits), guardrails=list(record.guardrails),
                   created_at=record.created_at)


def find_project(uow: TenantUnitOfWork, ref: str) -> ProjectRecord:
    """A project by id or by name, or NotFound."""
    record = uow.projects.get(ref) or uow.projects.get_by_name(ref)
    if record is None:
        raise NotFound(f"project {ref!r} not found", param="project")
    return record


class ProjectService:
    """Manage the projects of a tenant."""

    def __init__(self, access: TenantAccess, generation: Generation) -> None:
        self._access = access
        self._generation = generation

    def list(self, actor: Principal, tenant: str | None, offset: int = 0, limit: int = 100) -> list[ProjectOut]:
        """Projects by name."""
        with self._access.open(actor, tenant) as uow:
            return [ProjectOut.of(p) for p in uow.projects.list(offset=offset, limit=limit)]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> ProjectOut:
        """One project by id or name."""
        with self._access.open(actor, tenant) as uow:
            return ProjectOut.of(find_project(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: ProjectCreate) -> ProjectOut:
        """Add a project with a unique name."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            record = ProjectRecord(name=data.name.strip(), description=data.description,
                                   limits=data.limits.model_dump(exclude_none=True),
                                   guardrails=check_policy_names(uow, data.guardrails))
            if uow.projects.get_by_name(record.name):
                raise Conflict(f"project {record.name!r} already exists", param="name")
            try:
                uow.projects.add(record)
            except DuplicateKey:
                raise Conflict(f"project {record.name!r} already exists", param="name") from None
            audit.record(uow, actor, "project.create", record.id, name=record.name)
            uow.commit()
        return ProjectOut.of(record)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: ProjectUpdate) -> ProjectOut:
        """Rename or describe a project."""
        actor.require_write()
        changes = {k: getattr(data, k) for k in data.model_fields_set if getattr(data, k) is not None}
        if "limits" in changes:
            changes["limits"] = changes["limits"].model_dump(exclude_none=True)
        with self._access.open(actor, tenant) as uow:
            current = find_project(uow, ref)
            if "guardrails" in changes:
                changes["guardrails"] = check_policy_names(uow, changes["guardrails"])
            if "name" in changes and changes["name"] != current.name and uow.projects.get_by_name(changes["name"]):
                raise Conflict(f"project {changes['name']!r} already exists", param="name")
            record = uow.projects.update(current.id, changes) if changes else current
            audit.record(uow, actor, "project.update", current.id, fields=sorted(changes))
            uow.commit()
        self._generation.notify(uow.tenant_slug)  # project limits travel with the cached token identities
        return ProjectOut.of(record)  # type: ignore[arg-type]

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Delete a project that no token uses."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_project(uow, ref)
            in_use = uow.api_tokens.count_active_for_project(current.id)
            if in_use:
                raise Conflict(f"project {current.name!r} has {in_use} active API token(s); revoke them first")
            uow.projects.delete(current.id)
            audit.record(uow, actor, "project.delete", current.id, name=current.name)
            uow.commit()
