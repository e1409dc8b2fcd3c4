"""Tenants: registry entries in the control database plus one database each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.core.logging import get_logger
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import TenantRecord, utcnow
from gateway_app.db.tenancy import SLUG_PATTERN
from gateway_app.services.fields import UtcDatetime
from gateway_app.services.licenses import ALL_FEATURES, Feature, TenantLimits
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import load_tenant

log = get_logger("tenants")
TenantStatus = Literal["active", "suspended"]


class TenantCreate(BaseModel):
    """Input to create a tenant."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(description="lower-case letters, digits and dashes; becomes the database name",
                      examples=["acme"])
    name: str = Field(min_length=1, max_length=200)
    plan: str = Field(default="standard", min_length=1, max_length=50)
    features: list[Feature] | None = Field(default=None, description="omit for every feature")
    limits: TenantLimits = Field(default_factory=TenantLimits)
    license_expires_at: UtcDatetime | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.fullmatch(value):
            raise ValueError("use 2-63 lower-case letters, digits and dashes, starting with a letter or digit")
        return value


class TenantUpdate(BaseModel):
    """Changes to a tenant; only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: TenantStatus | None = None
    plan: str | None = Field(default=None, min_length=1, max_length=50)
    features: list[Feature] | None = None
    limits: TenantLimits | None = None
    license_expires_at: UtcDatetime | None = None


class TenantOut(BaseModel):
    """A tenant as shown to platform admins."""

    slug: str
    name: str
    status: TenantStatus
    plan: str
    features: list[str]
    limits: TenantLimits
    license_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: TenantRecord) -> TenantOut:
        """Build from a stored record."""
        return cls(slug=record.slug, name=record.name, status=record.status, plan=record.plan,
                   features=list(record.features), limits=TenantLimits(**record.limits),
                   license_expires_at=record.license_expires_at, created_at=record.created_at,
                   updated_at=record.updated_at)


class TenantPage(BaseModel):
    """A page of tenants."""

    items: list[TenantOut]
    total: int
    offset: int
    limit: int


class TenantService:
    """Create, list, change and delete tenants (platform admins only)."""

    def __init__(self, store: DataStore, generation: Generation,
                 on_delete: Sequence[Callable[[str], None]] = ()) -> None:
        self._store = store
        self._generation = generation
        self._on_delete = tuple(on_delete)  # what else keeps tenant data: vectors, stored files

    def list(self, actor: Principal, search: str = "", offset: int = 0, limit: int = 50) -> TenantPage:
        """Tenants matching a search on slug or name."""
        actor.require_platform_admin()
        with self._store.control() as uow:
            items = uow.tenants.list(search=search.strip(), offset=offset, limit=limit)
            total = uow.tenants.count(search=search.strip())
        return TenantPage(items=[TenantOut.of(t) for t in items], total=total, offset=offset, limit=limit)

    def get(self, actor: Principal, slug: str) -> TenantOut:
        """One tenant (platform admins, or members of that tenant)."""
        if not actor.is_platform_admin and actor.tenant_slug != slug:
            raise NotFound(f"tenant {slug!r} not found")
        return TenantOut.of(self.get_record(slug))

    def get_record(self, slug: str) -> TenantRecord:
        """The stored tenant, or NotFound (for other services)."""
        return load_tenant(self._store, slug)

    def create(self, actor: Principal, data: TenantCreate) -> TenantOut:
        """Register a tenant and create its database; nothing is left behind if either fails."""
        actor.require_platform_admin()
        record = TenantRecord(
            slug=data.slug, name=data.name.strip(), plan=data.plan,
            features=list(data.features) if data.features is not None else list(ALL_FEATURES),
            limits=data.limits.model_dump(exclude_none=True), license_expires_at=data.license_expires_at,
        )
        if self._store.tenant_store_exists(data.slug):
            raise Conflict(f"a database for tenant {data.slug!r} already exists", param="slug")
        with self._store.control() as uow:
            if uow.tenants.get(data.slug) is not None:
                raise Conflict(f"tenant {data.slug!r} already exists", param="slug")
            try:
                uow.tenants.add(record)
            except DuplicateKey:
                raise Conflict(f"tenant {data.slug!r} already exists", param="slug") from None
            try:
                self._store.create_tenant_store(data.slug)
            except Exception:
                self._store.drop_tenant_store(data.slug)
                raise
            uow.commit()
        log.info("tenant created", extra={"tenant": data.slug, "by": actor.email})
        return TenantOut.of(record)

    def update(self, actor: Principal, slug: str, data: TenantUpdate) -> TenantOut:
        """Change name, status, plan, features, limits or expiry."""
        actor.require_platform_admin()
        changes = {}
        for name in data.model_fields_set:
            value = getattr(data, name)
            if name == "limits":
                value = (value or TenantLimits()).model_dump(exclude_none=True)
            elif name == "features":
                value = list(value) if value is not None else list(ALL_FEATURES)
            elif value is None and name != "license_expires_at":
                raise InvalidInput(f"{name} cannot be null", param=name)
            changes[name] = value
        self.get_record(slug)
        if not changes:
            return self.get(actor, slug)
        changes["updated_at"] = utcnow()
        with self._store.control() as uow:
            record = uow.tenants.update(slug, changes)
            if record is None:
                raise NotFound(f"tenant {slug!r} not found")
            uow.commit()
        self._generation.notify(slug)  # status / features / expiry are checked on the hot path
        return TenantOut.of(record)

    def delete(self, actor: Principal, slug: str) -> None:
        """Remove the tenant, its database, its users' logins and its tokens."""
        actor.require_platform_admin()
        self.get_record(slug)
        with self._store.control() as uow:
            uow.tenants.delete(slug)
            uow.directory.delete_tenant(slug)
            uow.token_index.delete_tenant(slug)
            uow.commit()
        self._store.drop_tenant_store(slug)
        for drop in self._on_delete:
            try:
                drop(slug)
            except Exception:  # noqa: BLE001 - the tenant is gone either way; leftovers are logged
                log.exception("could not remove a deleted tenant's data", extra={"tenant": slug})
        self._generation.notify(slug)
        log.info("tenant deleted", extra={"tenant": slug, "by": actor.email})
