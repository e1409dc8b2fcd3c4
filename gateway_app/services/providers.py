"""Provider configurations: credentials encrypted at rest, shown masked, tested on demand."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Annotated, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway_app.core.crypto import SecretBox, mask_secret
from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.core.resilience import BreakerRegistry
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import ProviderRecord, utcnow
from gateway_app.providers.base import ProviderSpec, UpstreamError
from gateway_app.providers.factory import RuntimeFactory
from gateway_app.providers.http import clean_text
from gateway_app.services import audit
from gateway_app.services.principals import Principal
from gateway_app.services.provider_headers import (
    check_headers,
    header_changes,
    masked,
    stored_headers,
    without_headers,
)
from gateway_app.services.tenant_access import TenantAccess

ProviderType = Literal["openai", "openai-compatible", "azure-openai", "anthropic"]
ProviderName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
KEY_REQUIRED = ("openai", "azure-openai", "anthropic")


class ProviderOptions(BaseModel):
    """Per-provider call settings."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=60.0, gt=0, le=600, description="per upstream request")
    max_retries: int = Field(default=2, ge=0, le=5, description="retries after the first attempt")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers sent upstream (encrypted at "
                                    "rest, shown masked; send a masked value back to keep it)")

    _headers = field_validator("headers")(lambda cls, v: check_headers(v))


def _check_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class ProviderCreate(BaseModel):
    """Input to configure a provider."""

    model_config = ConfigDict(extra="forbid")

    name: ProviderName
    type: ProviderType
    base_url: str = Field(description="e.g. https://api.openai.com/v1")
    api_key: str | None = Field(default=None, min_length=1, max_length=4000)
    api_version: str | None = Field(default=None, max_length=50, description="Azure OpenAI api-version")
    options: ProviderOptions = Field(default_factory=ProviderOptions)
    enabled: bool = True

    _url = field_validator("base_url")(lambda cls, v: _check_url(v))

    @model_validator(mode="after")
    def _requirements(self) -> ProviderCreate:
        if self.type in KEY_REQUIRED and not self.api_key:
            raise ValueError(f"api_key: required for {self.type} providers")
        if self.type == "azure-openai" and not self.api_version:
            raise ValueError("api_version: required for azure-openai providers")
        return self


class ProviderUpdate(BaseModel):
    """Changes to a provider; only the fields sent change. Send api_key to replace the key."""

    model_config = ConfigDict(extra="forbid")

    name: ProviderName | None = None
    base_url: str | None = None
    api_key: str | None = Field(default=None, min_length=1, max_length=4000)
    api_version: str | None = Field(default=None, max_length=50)
    options: ProviderOptions | None = None
    enabled: bool | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class BreakerOut(BaseModel):
    """Circuit breaker of a provider in this process."""

    state: str
    failures: int
    opened_at: float | None


class ProviderOut(BaseModel):
    """A provider as shown to operators: the key only masked."""

    id: str
    name: str
    type: str
    base_url: str
    api_key: str = Field(description="masked, e.g. sk-...abcd")
    api_version: str | None
    options: ProviderOptions
    enabled: bool
    created_at: datetime
    updated_at: datetime
    breaker: BreakerOut


class ConnectionTest(BaseModel):
    """Result of listing the upstream's models."""

    ok: bool
    latency_ms: float
    models: list[str] = []
    error: str | None = None


def breaker_key(tenant: str, provider_id: str) -> str:
    """Key of a provider's breaker and pooled runtime."""
    return f"{tenant}:{provider_id}"


def provider_spec(tenant: str, record: ProviderRecord, box: SecretBox) -> ProviderSpec:
    """The runtime view of a stored provider (decrypts the key and the headers)."""
    options = ProviderOptions(**without_headers(record.options))
    return ProviderSpec(
        key=breaker_key(tenant, record.id), name=record.name, type=record.type, base_url=record.base_url,
        api_key=box.decrypt(record.api_key_enc) if record.api_key_enc else None, api_version=record.api_version,
        timeout_s=options.timeout_s, max_retries=options.max_retries,
        headers=tuple(sorted(stored_headers(record, box).items())), fingerprint=_fingerprint(record),
    )


def _shown_options(record: ProviderRecord) -> ProviderOptions:
    hints = record.header_hints if record.headers_enc else masked(record.options.get("headers") or {})
    return ProviderOptions.model_construct(**{**ProviderOptions(**without_headers(record.options)).model_dump(),
                                              "headers": hints})


def _fingerprint(record: ProviderRecord) -> str:
    # updated_at has second precision: two changes within a second must still build a new client.
    config = repr((record.type, record.base_url, record.api_key_enc, record.api_version, record.headers_enc,
                   sorted(record.options.items(), key=str), record.updated_at.isoformat()))
    return f"{record.id}:{hashlib.sha256(config.encode()).hexdigest()[:16]}"


def find_provider(uow: TenantUnitOfWork, ref: str) -> ProviderRecord:
    """A provider by id or name, or NotFound."""
    record = uow.providers.get(ref) or uow.providers.get_by_name(ref)
    if record is None:
        raise NotFound(f"provider {ref!r} not found", param="provider")
    return record


class ProviderService:
    """Configure a tenant's providers."""

    def __init__(self, access: TenantAccess, box: SecretBox, generation: Generation,
                 breakers: BreakerRegistry, runtimes: RuntimeFactory) -> None:
        self._access = access
        self._box = box
        self._generation = generation
        self._breakers = breakers
        self._runtimes = runtimes

    def _check_address(self, base_url: str) -> None:
        # Quick feedback for literal addresses; names are checked when connecting (DNS can change).
        problem = self._runtimes.policy.check_url(base_url)
        if problem:
            error = InvalidInput(f"base_url: {problem}", param="base_url")
            error.status = 422
            raise error

    def _out(self, tenant: str, record: ProviderRecord) -> ProviderOut:
        state = self._breakers.state(breaker_key(tenant, record.id))
        return ProviderOut(id=record.id, name=record.name, type=record.type, base_url=record.base_url,
                           api_key=record.api_key_hint, api_version=record.api_version,
                           options=_shown_options(record), enabled=record.enabled,
                           created_at=record.created_at, updated_at=record.updated_at,
                           breaker=BreakerOut(state=state.state, failures=state.failures, opened_at=state.opened_at))

    def list(self, actor: Principal, tenant: str | None) -> list[ProviderOut]:
        """Providers by name."""
        with self._access.open(actor, tenant) as uow:
            return [self._out(uow.tenant_slug, p) for p in uow.providers.list()]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> ProviderOut:
        """One provider by id or name, with its breaker state."""
        with self._access.open(actor, tenant) as uow:
            return self._out(uow.tenant_slug, find_provider(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: ProviderCreate) -> ProviderOut:
        """Store a provider; the key is encrypted before it is written."""
        actor.require_write()
        self._check_address(data.base_url)
        record = ProviderRecord(
            name=data.name, type=data.type, base_url=data.base_url,
            api_key_enc=self._box.encrypt(data.api_key) if data.api_key else None,
            api_key_hint=mask_secret(data.api_key), api_version=data.api_version,
            options=without_headers(data.options.model_dump()), enabled=data.enabled,
            **header_changes(self._box, data.options.headers),
        )
        with self._access.open(actor, tenant) as uow:
            if uow.providers.get_by_name(data.name):
                raise Conflict(f"provider {data.name!r} already exists", param="name")
            uow.providers.add(record)
            audit.record(uow, actor, "provider.create", record.id, name=record.name, type=record.type)
            uow.commit()
            return self._out(uow.tenant_slug, record)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: ProviderUpdate) -> ProviderOut:
        """Change a provider; in-flight calls finish on the old client, new ones use the new config."""
        actor.require_write()
        changes: dict = {}
        for name in data.model_fields_set:
            value = getattr(data, name)
            if name == "api_key":
                if value is None:
                    raise InvalidInput("api_key cannot be null; send a new key", param="api_key")
                changes["api_key_enc"] = self._box.encrypt(value)
                changes["api_key_hint"] = mask_secret(value)
            elif name == "options":
                changes["options"] = without_headers((value or ProviderOptions()).model_dump())
            elif value is None and name != "api_version":
                raise InvalidInput(f"{name} cannot be null", param=name)
            else:
                changes[name] = value
        if "base_url" in changes:
            self._check_address(changes["base_url"])
        with self._access.open(actor, tenant) as uow:
            current = find_provider(uow, ref)
            if "name" in changes and changes["name"] != current.name and uow.providers.get_by_name(changes["name"]):
                raise Conflict(f"provider {changes['name']!r} already exists", param="name")
            if data.options is not None and "headers" in data.options.model_fields_set:
                changes.update(header_changes(self._box, data.options.headers, stored_headers(current, self._box)))
            changes["updated_at"] = utcnow()
            record = uow.providers.update(current.id, changes)
            audit.record(uow, actor, "provider.update", current.id, fields=sorted(data.model_fields_set))
            uow.commit()
            out = self._out(uow.tenant_slug, record)  # type: ignore[arg-type]
        self._generation.notify(uow.tenant_slug)
        return out

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Delete a provider no model uses."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_provider(uow, ref)
            users = [m.name for m in uow.models.list(provider_id=current.id)]
            if users:
                raise Conflict(f"provider {current.name!r} is used by model(s): {', '.join(users)}")
            uow.providers.delete(current.id)
            audit.record(uow, actor, "provider.delete", current.id, name=current.name)
            uow.commit()
            self._breakers.forget(breaker_key(uow.tenant_slug, current.id))
        self._generation.notify(uow.tenant_slug)

    def spec(self, actor: Principal, tenant: str | None, ref: str) -> ProviderSpec:
        """The decrypted runtime view, for writers only (it spends stored credentials; never returned)."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            return provider_spec(uow.tenant_slug, find_provider(uow, ref), self._box)

    async def test_connection(self, actor: Principal, tenant: str | None, ref: str) -> ConnectionTest:
        """List the upstream's models with a throwaway client (members may not: it uses the stored key)."""
        actor.require_write()
        spec = await anyio.to_thread.run_sync(self.spec, actor, tenant, ref)
        runtime = self._runtimes.runtime(spec)
        started = time.perf_counter()
        try:
            models = await runtime.list_models(timeout=min(spec.timeout_s, 15.0))
            return ConnectionTest(ok=True, latency_ms=(time.perf_counter() - started) * 1000, models=models)
        except UpstreamError as exc:
            # Messages are built from sanitised parts already; cleaning again keeps this the last gate.
            return ConnectionTest(ok=False, latency_ms=(time.perf_counter() - started) * 1000,
                                  error=clean_text(exc.message, 400))
        finally:
            await runtime.aclose()

    def rotate_keys(self, store, slugs: list[str]) -> int:
        """Re-encrypt every stored provider key and header set with the newest ENCRYPTION_KEY; returns how many."""
        rotated = 0
        for slug in slugs:
            with store.tenant(slug) as uow:
                for record in uow.providers.list():
                    changes = {name: self._box.rotate(value) for name in ("api_key_enc", "headers_enc")
                               if (value := getattr(record, name))}
                    if changes:
                        uow.providers.update(record.id, changes)
                        rotated += 1
                uow.commit()
        return rotated

    def encrypt_plaintext_headers(self, store, slugs: list[str]) -> int:
        """Move headers stored in clear (before they were encrypted) into headers_enc; returns how many."""
        moved = 0
        for slug in slugs:
            with store.tenant(slug) as uow:
                for record in uow.providers.list():
                    if "headers" in record.options:
                        uow.providers.update(record.id, {"options": without_headers(record.options),
                                                         **header_changes(self._box, stored_headers(record, self._box))})
                        moved += 1
                uow.commit()
        return moved
