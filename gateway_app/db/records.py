"""Plain records the repositories return: the same for every backend, detached from any session."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway_app.core.ids import fast_id


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
    limits: dict = field(default_factory=dict)  # {"monthly_budget_usd": ...}
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
    limits: dict = field(default_factory=dict)  # {"rpm", "tpm", "monthly_budget_usd"}
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


@dataclass(slots=True)
class ProviderRecord:
    """An upstream provider configuration; the API key is stored encrypted."""

    name: str
    type: str  # openai | openai-compatible | azure-openai | anthropic
    base_url: str
    api_key_enc: str | None = None
    api_key_hint: str = ""  # masked form shown to operators, e.g. "sk-...abcd"
    api_version: str | None = None
    options: dict = field(default_factory=dict)  # timeout_s, max_retries, headers
    enabled: bool = True
    id: str = field(default_factory=lambda: new_id("prv"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ModelRecord:
    """A public model name (alias) mapped to a provider's model, with prices, limits and fallbacks."""

    name: str
    provider_id: str
    upstream_model: str
    kind: str = "chat"  # chat | embedding
    fallbacks: list[str] = field(default_factory=list)
    input_price_per_1k: float = 0.0
    output_price_per_1k: float = 0.0
    rpm: int | None = None
    tpm: int | None = None
    enabled: bool = True
    id: str = field(default_factory=lambda: new_id("mdl"))
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class UsageRecord:
    """One client request, as measured by the gateway."""

    request_id: str
    model: str
    kind: str = "chat"
    token_id: str = ""
    project_id: str | None = None
    upstream_model: str = ""
    provider_id: str = ""
    status: int = 200
    error_type: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    stream: bool = False
    fallback: bool = False
    id: str = field(default_factory=lambda: fast_id("use"))
    at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class UsageRollup:
    """Usage summed per hour, model, token and project: what charts and budgets read."""

    hour: datetime
    model: str
    token_id: str
    project_id: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms_sum: float = 0.0
    latency_buckets: list[int] = field(default_factory=list)


@dataclass(slots=True)
class FileRecord:
    """A file uploaded through the gateway: which provider holds it, for which tenant."""

    id: str  # the provider's file id
    provider_id: str
    filename: str
    purpose: str
    bytes: int = 0
    status: str = "uploaded"
    created_at: datetime = field(default_factory=utcnow)
