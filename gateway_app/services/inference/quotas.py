"""Quotas: requests and tokens per minute, monthly spend budgets, on shared atomic counters.

Counters live in the cache provider (Redis when configured, so every replica counts together).
Fixed one-minute windows; a refused request gives its increments back. Tokens are reserved from
an estimate before the call and settled on the real usage after it (streams included).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from gateway_app.core.cache import Cache
from gateway_app.core.errors import GatehouseError
from gateway_app.db.errors import StoreError
from gateway_app.db.protocols import DataStore
from gateway_app.services.client_auth import ClientIdentity, Limits
from gateway_app.services.inference.catalog import ModelEntry

MICROS = 1_000_000
WINDOW_TTL = 120.0
BUDGET_TTL = 40 * 24 * 3600.0


class QuotaExceeded(GatehouseError):
    """A limit is reached: 429 with the x-ratelimit headers."""

    code = "rate_limit_exceeded"
    status = 429

    def __init__(self, message: str, *, code: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.code = code
        self.headers = headers


@dataclass(slots=True)
class Admission:
    """What a request reserved; settle() corrects it once usage is known."""

    token_keys: list[str] = field(default_factory=list)
    budget_keys: list[str] = field(default_factory=list)
    estimate: int = 0
    headers: dict[str, str] = field(default_factory=dict)


NOTHING_RESERVED = Admission()


def estimate_tokens(payload: dict) -> int:
    """A cheap upper-ish estimate: ~4 characters per token of input, plus the output allowance."""
    chars = 0
    for message in payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        chars += len(content) if isinstance(content, str) else len(str(content or ""))
    value = payload.get("input")
    if value is not None:
        chars += len(value) if isinstance(value, str) else len(str(value))
    output = payload.get("max_tokens") or payload.get("max_completion_tokens") or 256
    return chars // 4 + 1 + (int(output) if isinstance(output, int) else 256)


class QuotaGuard:
    """Checks and counts every limit that applies to a request."""

    def __init__(self, cache: Cache, store: DataStore, clock=time.time) -> None:
        self._cache = cache
        self._store = store
        self._clock = clock

    @staticmethod
    def _scopes(identity: ClientIdentity, model: ModelEntry) -> list[tuple[str, str, Limits]]:
        scopes = [("token", identity.token_id, identity.token_limits),
                  ("tenant", "all", identity.tenant_limits),
                  ("model", model.name, Limits(rpm=model.rpm, tpm=model.tpm))]
        if identity.project_id:
            scopes.insert(1, ("project", identity.project_id, identity.project_limits))
        return [s for s in scopes if not s[2].empty]

    async def admit(self, identity: ClientIdentity, model: ModelEntry, estimate: int) -> Admission:
        """Count the request in, or raise QuotaExceeded (nothing stays counted then)."""
        scopes = self._scopes(identity, model)
        if not scopes:
            return NOTHING_RESERVED
        now = self._clock()
        minute = int(now // 60)
        reset = f"{60 - int(now % 60)}s"
        prefix = f"q:{identity.tenant_slug}:"
        increments: list[tuple[str, int, float | None]] = []
        checks: list[tuple[str, str, int, str]] = []  # (kind, scope, limit, key)
        for scope, scope_id, limits in scopes:
            if limits.rpm is not None:
                key = f"{prefix}{scope}:{scope_id}:r:{minute}"
                increments.append((key, 1, WINDOW_TTL))
                checks.append(("requests", scope, limits.rpm, key))
            if limits.tpm is not None:
                key = f"{prefix}{scope}:{scope_id}:t:{minute}"
                increments.append((key, estimate, WINDOW_TTL))
                checks.append(("tokens", scope, limits.tpm, key))
        admission = Admission(estimate=estimate)
        if increments:
            values = dict(zip([k for k, _, _ in increments], await self._cache.incr_many(increments), strict=True))
            for kind, scope, limit, key in checks:
                self._remaining(admission, kind, limit, values[key], reset)
                if values[key] > limit:
                    await self._cache.incr_many([(k, -a, None) for k, a, _ in increments])
                    raise QuotaExceeded(
                        f"Rate limit reached for this {scope}: {limit} {kind} per minute. Retry in {reset}.",
                        code="rate_limit_exceeded", headers={**admission.headers, "retry-after": reset[:-1]})
            admission.token_keys = [k for kind, _, _, k in checks if kind == "tokens"]
        for scope, scope_id, limits in scopes:
            if limits.monthly_budget_usd is None:
                continue
            key = await self._budget_key(identity, scope, scope_id, now)
            spent = (await self._cache.incr_many([(key, 0, BUDGET_TTL)]))[0] / MICROS
            if spent >= limits.monthly_budget_usd:
                if increments:
                    await self._cache.incr_many([(k, -a, None) for k, a, _ in increments])
                raise QuotaExceeded(
                    f"Monthly budget of this {scope} is spent: ${spent:.4f} of ${limits.monthly_budget_usd:.2f}.",
                    code="budget_exceeded", headers=admission.headers)
            admission.budget_keys.append(key)
        return admission

    @staticmethod
    def _remaining(admission: Admission, kind: str, limit: int, used: int, reset: str) -> None:
        remaining = max(0, limit - used)
        name = f"x-ratelimit-remaining-{kind}"
        if name not in admission.headers or int(admission.headers[name]) > remaining:
            admission.headers[f"x-ratelimit-limit-{kind}"] = str(limit)
            admission.headers[name] = str(remaining)
            admission.headers[f"x-ratelimit-reset-{kind}"] = reset

    async def _budget_key(self, identity: ClientIdentity, scope: str, scope_id: str, now: float) -> str:
        month = datetime.fromtimestamp(now, UTC).strftime("%Y%m")
        key = f"q:{identity.tenant_slug}:{scope}:{scope_id}:b:{month}"
        # First use this month (in this cache): start the counter from what the store has recorded.
        if await self._cache.set_if_absent(key + ":init", "1", BUDGET_TTL):
            start = datetime.fromtimestamp(now, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            spent = await anyio.to_thread.run_sync(self._recorded_spend, identity.tenant_slug, scope, scope_id, start)
            if spent:
                await self._cache.incr_many([(key, int(spent * MICROS), BUDGET_TTL)])
        return key

    def _recorded_spend(self, tenant: str, scope: str, scope_id: str, start: datetime) -> float:
        try:
            with self._store.tenant(tenant) as uow:
                if scope == "token":
                    return uow.usage.spend(start, token_id=scope_id)
                if scope == "project":
                    return uow.usage.spend(start, project_id=scope_id)
                return uow.usage.spend(start)
        except StoreError:
            return 0.0

    async def settle(self, admission: Admission, actual_tokens: int, cost_usd: float) -> None:
        """Correct the token reservation and add the cost to the budgets."""
        updates: list[tuple[str, int, float | None]] = []
        delta = actual_tokens - admission.estimate
        if delta:
            updates += [(key, delta, None) for key in admission.token_keys]
        micros = int(round(cost_usd * MICROS))
        if micros:
            updates += [(key, micros, None) for key in admission.budget_keys]
        if updates:
            await self._cache.incr_many(updates)
