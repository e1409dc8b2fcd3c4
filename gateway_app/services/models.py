"""Models: the public names clients use, mapped to a provider's model, with prices and limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import ModelRecord, utcnow
from gateway_app.services import audit
from gateway_app.services.fields import MAX_PRICE_USD, MAX_RATE
from gateway_app.services.guardrails.service import check_policy_names
from gateway_app.services.principals import Principal
from gateway_app.services.providers import find_provider
from gateway_app.services.tenant_access import TenantAccess

ModelKind = Literal["chat", "embedding"]
ModelName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$")]


class ModelCreate(BaseModel):
    """Input to publish a model under a name."""

    model_config = ConfigDict(extra="forbid")

    name: ModelName
    provider: str = Field(description="provider id or name")
    upstream_model: str = Field(min_length=1, max_length=200)
    kind: ModelKind = "chat"
    fallbacks: list[str] = Field(default_factory=list, max_length=5, description="model names tried in order")
    input_price_per_1k: float = Field(default=0.0, ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)
    output_price_per_1k: float = Field(default=0.0, ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)
    rpm: int | None = Field(default=None, ge=1, le=MAX_RATE)
    tpm: int | None = Field(default=None, ge=1, le=MAX_RATE)
    enabled: bool = True
    guardrails: list[str] = Field(default_factory=list, description="guardrail policy names applied to this model")


class ModelUpdate(BaseModel):
    """Changes to a model; only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = None
    upstream_model: str | None = Field(default=None, min_length=1, max_length=200)
    fallbacks: list[str] | None = Field(default=None, max_length=5)
    input_price_per_1k: float | None = Field(default=None, ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)
    output_price_per_1k: float | None = Field(default=None, ge=0, le=MAX_PRICE_USD, allow_inf_nan=False)
    rpm: int | None = Field(default=None, ge=1, le=MAX_RATE)
    tpm: int | None = Field(default=None, ge=1, le=MAX_RATE)
    enabled: bool | None = None
    guardrails: list[str] | None = None


class ModelOut(BaseModel):
    """A model as operators see it."""

    id: str
    name: str
    provider_id: str
    provider: str
    upstream_model: str
    kind: ModelKind
    fallbacks: list[str]
    input_price_per_1k: float
    output_price_per_1k: float
    rpm: int | None
    tpm: int | None
    enabled: bool
    guardrails: list[str]
    created_at: datetime
    updated_at: datetime


def find_model(uow: TenantUnitOfWork, ref: str) -> ModelRecord:
    """A model by id or name, or NotFound."""
    record = uow.models.get(ref) or uow.models.get_by_name(ref)
    if record is None:
        raise NotFound(f"model {ref!r} not found", param="model")
    return record


class ModelService:
    """Publish, change and retire a tenant's models."""

    def __init__(self, access: TenantAccess, generation: Generation) -> None:
        self._access = access
        self._generation = generation

    @staticmethod
    def _out(uow: TenantUnitOfWork, record: ModelRecord) -> ModelOut:
        provider = uow.providers.get(record.provider_id)
        return ModelOut(id=record.id, name=record.name, provider_id=record.provider_id,
                        provider=provider.name if provider else "", upstream_model=record.upstream_model,
                        kind=record.kind, fallbacks=list(record.fallbacks),
                        input_price_per_1k=record.input_price_per_1k, output_price_per_1k=record.output_price_per_1k,
                        rpm=record.rpm, tpm=record.tpm, enabled=record.enabled, guardrails=list(record.guardrails),
                        created_at=record.created_at,
                        updated_at=record.updated_at)

    @staticmethod
    def _check_fallbacks(uow: TenantUnitOfWork, name: str, kind: str, fallbacks: list[str]) -> None:
        if len(set(fallbacks)) != len(fallbacks):
            raise InvalidInput("fallbacks must not repeat a model", param="fallbacks")
        for fallback in fallbacks:
            if fallback == name:
                raise InvalidInput("a model cannot fall back to itself", param="fallbacks")
            target = uow.models.get_by_name(fallback)
            if target is None:
                raise InvalidInput(f"fallback model {fallback!r} does not exist", param="fallbacks")
            if target.kind != kind:
                raise InvalidInput(f"fallback model {fallback!r} is a {target.kind} model, not {kind}",
                                   param="fallbacks")

    def list(self, actor: Principal, tenant: str | None) -> list[ModelOut]:
        """Models by name."""
        with self._access.open(actor, tenant) as uow:
            return [self._out(uow, m) for m in uow.models.list()]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> ModelOut:
        """One model by id or name."""
        with self._access.open(actor, tenant) as uow:
            return self._out(uow, find_model(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: ModelCreate) -> ModelOut:
        """Publish a model name."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            provider = find_provider(uow, data.provider)
            if uow.models.get_by_name(data.name):
                raise Conflict(f"model {data.name!r} already exists", param="name")
            self._check_fallbacks(uow, data.name, data.kind, data.fallbacks)
            record = ModelRecord(name=data.name, provider_id=provider.id, upstream_model=data.upstream_model,
                                 kind=data.kind, fallbacks=list(data.fallbacks),
                                 input_price_per_1k=data.input_price_per_1k,
                                 output_price_per_1k=data.output_price_per_1k, rpm=data.rpm, tpm=data.tpm,
                                 enabled=data.enabled, guardrails=check_policy_names(uow, data.guardrails))
            uow.models.add(record)
            audit.record(uow, actor, "model.create", record.id, name=record.name)
            uow.commit()
            out = self._out(uow, record)
        self._generation.notify(uow.tenant_slug)
        return out

    def update(self, actor: Principal, tenant: str | None, ref: str, data: ModelUpdate) -> ModelOut:
        """Change where a model goes, its prices, limits or fallbacks."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_model(uow, ref)
            changes: dict = {}
            for name in data.model_fields_set:
                value = getattr(data, name)
                if name == "provider":
                    if value is None:
                        raise InvalidInput("provider cannot be null", param="provider")
                    changes["provider_id"] = find_provider(uow, value).id
                elif name == "guardrails":
                    changes["guardrails"] = check_policy_names(uow, value or [])
                elif name == "fallbacks":
                    self._check_fallbacks(uow, current.name, current.kind, value or [])
                    changes["fallbacks"] = list(value or [])
                elif value is None and name not in ("rpm", "tpm"):
                    raise InvalidInput(f"{name} cannot be null", param=name)
                else:
                    changes[name] = value
            changes["updated_at"] = utcnow()
            record = uow.models.update(current.id, changes)
            audit.record(uow, actor, "model.update", current.id, fields=sorted(data.model_fields_set))
            uow.commit()
            out = self._out(uow, record)  # type: ignore[arg-type]
        self._generation.notify(uow.tenant_slug)
        return out

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Retire a model name no other model falls back to."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_model(uow, ref)
            dependants = [m.name for m in uow.models.list() if current.name in m.fallbacks]
            if dependants:
                raise Conflict(f"model {current.name!r} is a fallback of: {', '.join(dependants)}")
            uow.models.delete(current.id)
            audit.record(uow, actor, "model.delete", current.id, name=current.name)
            uow.commit()
        self._generation.notify(uow.tenant_slug)
