"""Hot-path resolution of a bearer API token to the caller's identity, from a local cache."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio

from gateway_app.core.errors import AuthenticationFailed, FeatureDisabled, TenantUnavailable
from gateway_app.core.invalidation import PLATFORM_SCOPE, Generation, LocalLookupCache, Stamp
from gateway_app.core.security import hash_api_token
from gateway_app.core.batch_writer import BatchWriter
from gateway_app.db.errors import StoreError
from gateway_app.db.protocols import DataStore
from gateway_app.services.append_writers import TokenTouch, touch_writer


@dataclass(frozen=True, slots=True)
class Limits:
    """Quota limits of one scope (token, project or tenant); None is unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    monthly_budget_usd: float | None = None

    @classmethod
    def of(cls, data: dict | None) -> Limits:
        """From a stored limits dict (unknown keys ignored)."""
        data = data or {}
        return cls(rpm=data.get("rpm"), tpm=data.get("tpm"), monthly_budget_usd=data.get("monthly_budget_usd"))

    @property
    def empty(self) -> bool:
        """True when nothing is limited."""
        return self.rpm is None and self.tpm is None and self.monthly_budget_usd is None


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who is calling the client API: token, tenant, project and what they may use."""

    token_id: str
    token_name: str
    tenant_slug: str
    project_id: str | None
    models: frozenset[str] | None  # None: any model
    features: frozenset[str]  # licensed and allowed for this token
    expires_at: float | None
    license_expires_at: float | None
    problem: str | None = None  # cached refusal reason (unknown, revoked, suspended tenant)
    problem_is_tenant: bool = False
    token_limits: Limits = NO_LIMITS
    project_limits: Limits = NO_LIMITS
    tenant_limits: Limits = NO_LIMITS
    guardrails: tuple[str, ...] = ()  # policy names of the project, then the token

    def may_use_model(self, name: str) -> bool:
        """True if the token's scopes allow this model."""
        return self.models is None or name in self.models

    def require_feature(self, feature: str) -> None:
        """Raise FeatureDisabled unless the license and the token both allow the feature."""
        if feature not in self.features:
            raise FeatureDisabled(
                f"the feature '{feature}' is not enabled for this API token or its tenant's license")


_UNKNOWN = ClientIdentity("", "", "", None, None, frozenset(), None, None, problem="invalid API token")


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class TokenResolver:
    """Resolves bearer tokens; the store is read only on a cache miss (first use or after a change of
    the token's tenant)."""

    TOUCH_EVERY = 60.0  # seconds between last_used_at writes per token
    # A hash with no index entry belongs to no tenant, so no tenant's change would refresh it: it is
    # kept in the platform scope and briefly (it only absorbs floods of bad tokens; a real secret is
    # random, so it cannot have been looked up before it was created).
    UNKNOWN_TTL = 60.0
    ERROR_TTL = 5.0  # the tenant's store failed: refuse for a moment, then try again

    def __init__(self, store: DataStore, generation: Generation, ttl: float = 300.0) -> None:
        self._store = store
        self._cache: LocalLookupCache[ClientIdentity] = LocalLookupCache(generation, ttl=ttl, max_entries=50_000)
        self._last_touch: dict[str, float] = {}
        self.touch_writer: BatchWriter[TokenTouch] = touch_writer(store)
        self.store_reads = 0

    async def resolve(self, secret: str) -> ClientIdentity:
        """The identity behind a bearer token, or AuthenticationFailed / TenantUnavailable."""
        key = hash_api_token(secret)
        identity = self._cache.get(key)
        if identity is None:
            identity, stamp, ttl = await anyio.to_thread.run_sync(self._load, key)
            self._cache.put(key, identity, stamp, ttl)
        now = time.time()
        if identity.problem is not None:
            if identity.problem_is_tenant:
                raise TenantUnavailable(identity.problem)
            raise AuthenticationFailed(identity.problem)
        if identity.expires_at is not None and identity.expires_at <= now:
            raise AuthenticationFailed("API token has expired")
        if identity.license_expires_at is not None and identity.license_expires_at <= now:
            raise TenantUnavailable(f"the license of tenant '{identity.tenant_slug}' has expired")
        self._touch(identity, now)
        return identity

    @property
    def cache(self) -> LocalLookupCache[ClientIdentity]:
        """The local cache (its per-tenant load counters show cold starts)."""
        return self._cache

    def _load(self, token_hash: str) -> tuple[ClientIdentity, Stamp, float | None]:
        """The identity, the stamp of its scope taken before its data was read, and a TTL override."""
        self.store_reads += 1
        unknown = self._cache.generation(PLATFORM_SCOPE)
        with self._store.control() as control:
            entry = control.token_index.get(token_hash)
        if entry is None:
            return _UNKNOWN, unknown, self.UNKNOWN_TTL
        # The tenant is known only now: stamp its scope before reading anything that a change of the
        # tenant could touch (a separate session, so no read below predates the stamp).
        stamp = self._cache.generation(entry.tenant_slug)
        with self._store.control() as control:
            tenant = control.tenants.get(entry.tenant_slug)
        if tenant is None:
            return _UNKNOWN, stamp, self.UNKNOWN_TTL
        try:
            with self._store.tenant(tenant.slug) as uow:
                token = uow.api_tokens.get(entry.token_id)
                project = uow.projects.get(token.project_id) if token and token.project_id else None
        except StoreError:
            return _UNKNOWN, stamp, self.ERROR_TTL
        if token is None or token.token_hash != token_hash:
            return _UNKNOWN, stamp, self.UNKNOWN_TTL
        identity = ClientIdentity(
            token_id=token.id, token_name=token.name, tenant_slug=tenant.slug, project_id=token.project_id,
            models=frozenset(token.scopes.get("models") or ()) or None,
            features=frozenset(tenant.features) & frozenset(token.scopes.get("features") or tenant.features),
            expires_at=_ts(token.expires_at), license_expires_at=_ts(tenant.license_expires_at),
            token_limits=Limits.of(token.limits), project_limits=Limits.of(project.limits if project else None),
            tenant_limits=Limits.of(tenant.limits),
            guardrails=tuple(dict.fromkeys([*(project.guardrails if project else []), *token.guardrails])),
        )
        if token.revoked_at is not None:
            return replace(identity, problem="API token has been revoked"), stamp, None
        if tenant.status != "active":
            return replace(identity, problem=f"tenant '{tenant.slug}' is suspended", problem_is_tenant=True), stamp, None
        return identity, stamp, None

    def _touch(self, identity: ClientIdentity, now: float) -> None:
        last = self._last_touch.get(identity.token_id, 0.0)
        if now - last >= self.TOUCH_EVERY:
            self._last_touch[identity.token_id] = now
            self.touch_writer.submit(identity.tenant_slug, TokenTouch(identity.token_id,
                                                                      datetime.fromtimestamp(now, UTC)))
