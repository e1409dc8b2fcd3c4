"""API tokens: created once with their secret shown, stored hashed, revoked at once everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.core.logging import get_logger
from gateway_app.core.security import generate_api_token
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import ApiTokenRecord, TokenIndexEntry, utcnow
from gateway_app.services import audit
from gateway_app.services.fields import UtcDatetime
from gateway_app.services.guardrails.service import check_policy_names
from gateway_app.services.licenses import Feature, QuotaLimits
from gateway_app.services.principals import Principal
from gateway_app.services.projects import find_project
from gateway_app.services.tenant_access import TenantAccess

log = get_logger("tokens")
TokenStatus = Literal["active", "revoked", "expired"]


class TokenScopes(BaseModel):
    """What a token may use; an empty list means no restriction."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(default_factory=list, description="model names the token may call")
    features: list[Feature] = Field(default_factory=list, description="licensed features the token may use")


class TokenCreate(BaseModel):
    """Input to create an API token."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    project: str | None = Field(default=None, description="project id or name")
    expires_at: UtcDatetime | None = None
    scopes: TokenScopes = Field(default_factory=TokenScopes)
    limits: QuotaLimits = Field(default_factory=QuotaLimits)
    guardrails: list[str] = Field(default_factory=list, description="guardrail policy names for this token")

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class TokenOut(BaseModel):
    """A token as listed: never its secret or hash."""

    id: str
    name: str
    prefix: str
    project_id: str | None
    scopes: TokenScopes
    limits: QuotaLimits
    guardrails: list[str]
    status: TokenStatus
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, record: ApiTokenRecord) -> TokenOut:
        """Build from a stored record."""
        if record.revoked_at is not None:
            status: TokenStatus = "revoked"
        elif record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            status = "expired"
        else:
            status = "active"
        return cls(id=record.id, name=record.name, prefix=record.prefix, project_id=record.project_id,
                   scopes=TokenScopes(**record.scopes), limits=QuotaLimits(**record.limits),
                   guardrails=list(record.guardrails), status=status, expires_at=record.expires_at,
                   revoked_at=record.revoked_at, created_by=record.created_by,
                   created_at=record.created_at, last_used_at=record.last_used_at)


class TokenCreated(TokenOut):
    """A new token: `token` is the secret, returned this once only."""

    token: str


class TokenService:
    """Create, list and revoke a tenant's API tokens."""

    def __init__(self, store: DataStore, access: TenantAccess, generation: Generation) -> None:
        self._store = store
        self._access = access
        self._generation = generation

    def list(self, actor: Principal, tenant: str | None, project: str | None = None,
             offset: int = 0, limit: int = 100) -> list[TokenOut]:
        """Tokens, newest first, optionally of one project."""
        with self._access.open(actor, tenant) as uow:
            project_id = find_project(uow, project).id if project else None
            return [TokenOut.of(t) for t in uow.api_tokens.list(project_id=project_id, offset=offset, limit=limit)]

    def get(self, actor: Principal, tenant: str | None, token_id: str) -> TokenOut:
        """One token by id."""
        with self._access.open(actor, tenant) as uow:
            record = uow.api_tokens.get(token_id)
        if record is None:
            raise NotFound(f"API token {token_id!r} not found")
        return TokenOut.of(record)

    def create(self, actor: Principal, tenant: str | None, data: TokenCreate) -> TokenCreated:
        """Generate a token; only its hash is stored and the secret is returned once."""
        actor.require_write()
        tenant_record = self._access.check(actor, tenant)
        slug = tenant_record.slug
        unlicensed = set(data.scopes.features) - set(tenant_record.features)
        if unlicensed:
            raise InvalidInput(f"the tenant's license does not include: {', '.join(sorted(unlicensed))}",
                               param="scopes.features")
        material = generate_api_token()
        with self._store.tenant(slug) as uow:
            limit = tenant_record.limits.get("max_tokens")
            if limit is not None and len(uow.api_tokens.list(limit=limit + 1)) >= limit:
                raise Conflict(f"the tenant's license allows {limit} API tokens")
            project_id = find_project(uow, data.project).id if data.project else None
            record = ApiTokenRecord(name=data.name.strip(), token_hash=material.token_hash, prefix=material.prefix,
                                    project_id=project_id, scopes=data.scopes.model_dump(),
                                    limits=data.limits.model_dump(exclude_none=True),
                                    guardrails=check_policy_names(uow, data.guardrails),
                                    expires_at=data.expires_at, created_by=actor.email)
            uow.api_tokens.add(record)
            audit.record(uow, actor, "token.create", record.id, name=record.name, project=project_id)
            uow.commit()
        try:
            with self._store.control() as control:
                control.token_index.add(TokenIndexEntry(material.token_hash, slug, record.id))
                control.commit()
        except Exception:
            with self._store.tenant(slug) as uow:  # compensate: an unindexed token could never be used
                uow.api_tokens.update(record.id, {"revoked_at": utcnow()})
                uow.commit()
            raise
        return TokenCreated(**TokenOut.of(record).model_dump(), token=material.secret)

    def revoke(self, actor: Principal, tenant: str | None, token_id: str) -> TokenOut:
        """Revoke a token; every process stops accepting it before its next request."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            record = uow.api_tokens.get(token_id)
            if record is None:
                raise NotFound(f"API token {token_id!r} not found")
            if record.revoked_at is None:
                record = uow.api_tokens.update(token_id, {"revoked_at": utcnow()})
                audit.record(uow, actor, "token.revoke", token_id, name=record.name)  # type: ignore[union-attr]
                uow.commit()
        self._generation.notify(uow.tenant_slug)
        log.info("token revoked", extra={"token_id": token_id})
        return TokenOut.of(record)  # type: ignore[arg-type]
