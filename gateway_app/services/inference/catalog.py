"""Per-tenant model catalogue kept in process memory; rebuilt when an operator changes something."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from gateway_app.core.crypto import SecretBox
from gateway_app.core.errors import InvalidInput, NotFound
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.db.protocols import DataStore
from gateway_app.providers.base import ProviderSpec
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.providers import provider_spec


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """A published model, ready for the hot path."""

    name: str
    kind: str
    upstream_model: str
    provider: ProviderSpec
    fallbacks: tuple[str, ...]
    input_price_per_1k: float
    output_price_per_1k: float
    rpm: int | None
    tpm: int | None
    created: int
    guardrails: tuple[str, ...] = ()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Price of a call in USD."""
        return (prompt_tokens * self.input_price_per_1k + completion_tokens * self.output_price_per_1k) / 1000.0


@dataclass(frozen=True, slots=True)
class TenantCatalog:
    """Every enabled model of a tenant whose provider is enabled."""

    models: dict[str, ModelEntry]


class ModelCatalog:
    """Resolves model names for a token from the cached catalogue of its tenant."""

    def __init__(self, store: DataStore, box: SecretBox, generation: Generation) -> None:
        self._store = store
        self._box = box
        self._cache: LocalLookupCache[TenantCatalog] = LocalLookupCache(generation, ttl=300.0, max_entries=5_000)
        self.store_reads = 0

    @property
    def cache(self) -> LocalLookupCache[TenantCatalog]:
        """The local cache (its per-tenant load counters show cold starts)."""
        return self._cache

    def _load(self, tenant: str) -> TenantCatalog:
        self.store_reads += 1
        with self._store.tenant(tenant) as uow:
            providers = {p.id: p for p in uow.providers.list() if p.enabled}
            models = uow.models.list()
        entries = {}
        for model in models:
            provider = providers.get(model.provider_id)
            if not model.enabled or provider is None:
                continue
            entries[model.name] = ModelEntry(
                name=model.name, kind=model.kind, upstream_model=model.upstream_model,
                provider=provider_spec(tenant, provider, self._box), fallbacks=tuple(model.fallbacks),
                input_price_per_1k=model.input_price_per_1k, output_price_per_1k=model.output_price_per_1k,
                rpm=model.rpm, tpm=model.tpm, created=int(model.created_at.timestamp()),
                guardrails=tuple(model.guardrails))
        return TenantCatalog(models=entries)

    async def for_tenant(self, tenant: str) -> TenantCatalog:
        """The tenant's catalogue (store read only on first use or after a change)."""
        catalog = self._cache.get(tenant)
        if catalog is None:
            stamp = self._cache.generation(tenant)
            catalog = await anyio.to_thread.run_sync(self._load, tenant)
            self._cache.put(tenant, catalog, stamp)
        return catalog

    async def visible(self, identity: ClientIdentity) -> list[ModelEntry]:
        """Models the token may use, by name."""
        catalog = await self.for_tenant(identity.tenant_slug)
        return [m for name, m in sorted(catalog.models.items()) if identity.may_use_model(name)]

    async def route(self, identity: ClientIdentity, name: object, kind: str) -> list[ModelEntry]:
        """The model asked for, then its fallbacks: the order to try them in."""
        if not isinstance(name, str) or not name:
            raise InvalidInput("you must provide a model parameter", param="model")
        catalog = await self.for_tenant(identity.tenant_slug)
        primary = catalog.models.get(name)
        if primary is None or not identity.may_use_model(name):
            error = NotFound(f"The model '{name}' does not exist or you do not have access to it", param="model")
            error.code = "model_not_found"
            raise error
        if primary.kind != kind:
            raise InvalidInput(f"'{name}' is a {primary.kind} model; it cannot serve this endpoint", param="model")
        chain = [primary]
        chain += [catalog.models[f] for f in primary.fallbacks if f in catalog.models and catalog.models[f].kind == kind]
        return chain
