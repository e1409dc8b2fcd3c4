"""Plain records the repositories return: the same for every backend, detached from any session."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now, second precision is enough for records."""
    return datetime.now(UTC).replace(microsecond=0)


def new_id(prefix: str) -> str:
    """A short random id with a type prefix, e.g. 'usr_3f9a0c1b2d4e5f60'."""
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass(slots=True)
class TenantRecord:
    """A tenant and its license."""

    slug: str
    name: str
    status: str = "active"  # active | suspended
    plan: str = "standard"
    features: list[str] = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    license_expires_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class PlatformAdminRecord:
    """A platform administrator (not bound to a tenant)."""

    email: str
    password_hash: str
    name: str = ""
    status: str = "active"
    id: str = field(default_factory=lambda: new_id("adm"))
    created_at: datetime = field(default_factory=utcnow)
    last_login_at: datetime | None = None


@dataclass(slots=True)
class DirectoryEntry:
    """Where a console user lives: e-mail -> tenant (e-mails are unique across the platform)."""

    email: str
    tenant_slug: str
    user_id: str


@dataclass(slots=True)
class TokenIndexEntry:
    """Where an API token lives: hash -> tenant, so a bearer token finds its tenant in one lookup."""

    token_hash: str
    tenant_slug: str
    token_id: str


@dataclass(slots=True)
class UserRecord:
    """A console user of one tenant."""

    email: str
    password_hash: str
    role: str = "member"  # admin | member
    name: str = ""
    status: str = "active"  # active | deactivated
    id: str = field(default_factory=lambda: new_id("usr"))
    created_at: datetime = field(default_factory=utcnow)
    last_login_at: datetime | None = None


@dataclass(slots=True)
class ProjectRecord:
    """A project groups tokens (and later budgets, guardrails) inside a tenant."""

    name: str
    description: str = ""
    id: str = field(default_factory=lambda: new_id("prj"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ApiTokenRecord:
    """An API token: only its hash and visible prefix are stored."""

    name: str
    token_hash: str
    prefix: str
    project_id: str | None = None
    scopes: dict = field(default_factory=dict)  # {"models": [...], "features": [...]}; empty = all
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str = ""
    id: str = field(default_factory=lambda: new_id("tok"))
    created_at: datetime = field(default_factory=utcnow)
    last_used_at: datetime | None = None


@dataclass(slots=True)
class AuditRecord:
    """Who changed what, when."""

    actor: str
    action: str
    target: str
    detail: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_id("aud"))
    at: datetime = field(default_factory=utcnow)
