"""A change in one tenant reloads that tenant's hot-path lookups only, with a few hundred tenants warm."""

import asyncio
from collections import Counter

import anyio
import pytest

from gateway_app.core.invalidation import PLATFORM_SCOPE, scope_slot
from gateway_app.services.guardrails.service import PolicyCreate
from gateway_app.services.models import ModelCreate
from gateway_app.services.principals import PLATFORM_ADMIN, Principal
from gateway_app.services.providers import ProviderCreate
from gateway_app.services.tenants import TenantCreate
from gateway_app.services.tokens import TokenCreate
from tests.support.api import AdminApi, configure_gateway

TENANTS = [f"t{i:03d}" for i in range(200)]  # each one migrates a SQLite file (~0.1 s)
CHANGED, REVOKED = TENANTS[0], TENANTS[1]
ACTOR = Principal(user_id="test", email="test@example.com", role=PLATFORM_ADMIN)
HELLO = [{"role": "user", "content": "hello"}]


def _create_tenants(platform, upstream_url: str) -> dict[str, dict]:
    """Tenants with a provider on the fake upstream, a guarded chat model and a token (through the services)."""
    made = {}
    for slug in TENANTS:
        platform.tenants.create(ACTOR, TenantCreate(slug=slug, name=slug))
        platform.providers.create(ACTOR, slug, ProviderCreate(name="fake", type="openai-compatible",
                                                              base_url=upstream_url, api_key="sk-upstream-0001"))
        platform.guardrails.create(ACTOR, slug, PolicyCreate(name="screen", rules=[
            {"type": "keyword", "keywords": ["forbidden-word"]}]))
        platform.models.create(ACTOR, slug, ModelCreate(name="gpt-test", provider="fake", upstream_model="fake-chat",
                                                        guardrails=["screen"]))
        token = platform.tokens.create(ACTOR, slug, TokenCreate(name="app"))
        made[slug] = {"token": token.token, "token_id": token.id}
    return made


async def _chat_all(client, tokens: dict[str, str]) -> dict[str, int]:
    """One chat request per tenant (a few at a time); the status code of each."""
    gate = asyncio.Semaphore(8)

    async def one(secret: str) -> int:
        async with gate:
            response = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                                         json={"model": "gpt-test", "messages": HELLO})
            return response.status_code

    codes = await asyncio.gather(*(one(secret) for secret in tokens.values()))
    return dict(zip(tokens, codes, strict=True))


def _loads(platform) -> dict[str, Counter]:
    """Values loaded from the store per scope, by cache, since the start."""
    return {"tokens": platform.token_resolver.cache.loads, "models": platform.inference.catalog.cache.loads,
            "guardrails": platform.guarding.catalog.cache.loads}


def _engines(platform) -> dict[str, int] | None:
    """Tenant database engines open, at most, and opened so far (SQLite only)."""
    stats = getattr(platform.store, "open_stats", None)
    return stats() if stats is not None else None


def _usage_per_tenant(platform) -> dict[str, int]:
    assert platform.usage_recorder.writer.flush()
    counts = {}
    for slug in TENANTS:
        with platform.store.tenant(slug) as uow:
            counts[slug] = uow.usage.count()
    return counts


@pytest.mark.timeout(900)
async def test_a_change_in_one_tenant_leaves_every_other_tenant_warm(platform, client, admin, upstream):
    made = await anyio.to_thread.run_sync(_create_tenants, platform, upstream.url)
    tokens = {slug: made[slug]["token"] for slug in TENANTS}

    first = await _chat_all(client, tokens)
    assert set(first.values()) == {200}, {s: c for s, c in first.items() if c != 200}
    warm = {"tokens": platform.token_resolver.store_reads, "models": platform.inference.catalog.store_reads}
    assert warm == {"tokens": len(TENANTS), "models": len(TENANTS)}, "one cold load per tenant"
    engines_warm = _engines(platform)

    # Changes in two tenants, through the management API as an operator makes them.
    await admin.call("PATCH", "/models/gpt-test", tenant=CHANGED, json={"upstream_model": "fake-chat-2"}, expect=200)
    await admin.call("PATCH", "/guardrails/screen", tenant=CHANGED, expect=200,
                     json={"rules": [{"type": "keyword", "keywords": ["another-word"]}]})
    extra = await admin.create_token(CHANGED, name="second")
    await admin.call("DELETE", f"/api-tokens/{made[REVOKED]['token_id']}", tenant=REVOKED, expect=200)

    second = await _chat_all(client, tokens)
    assert second.pop(REVOKED) == 401, "a revoked token is refused on the very next request"
    assert set(second.values()) == {200}, {s: c for s, c in second.items() if c != 200}
    assert (await _chat_all(client, {CHANGED: extra["token"]})) == {CHANGED: 200}

    # Tenants whose slug shares a slot with a changed one are invalidated with it (harmless, rare).
    touched = {s for s in TENANTS if scope_slot(s) in (scope_slot(CHANGED), scope_slot(REVOKED))}
    sharers = len(touched - {CHANGED, REVOKED})
    # Totals first: only the changed tenants went back to the database (the old token and the new one
    # of CHANGED, the revoked token; CHANGED's catalogue; REVOKED's request stops at the token).
    assert platform.token_resolver.store_reads - warm["tokens"] == 3 + sharers
    assert platform.inference.catalog.store_reads - warm["models"] == 1 + sharers
    assert platform.guarding.catalog.store_reads == len(TENANTS) + 1 + sharers

    loads = _loads(platform)
    for kind, counts in loads.items():
        moved = [s for s in TENANTS if s not in touched and counts[s] != 1]
        assert not moved, f"{kind} reloaded for tenants nobody changed: {moved[:10]}"
    assert (loads["tokens"][CHANGED], loads["models"][CHANGED], loads["guardrails"][CHANGED]) == (3, 2, 2)
    assert (loads["tokens"][REVOKED], loads["models"][REVOKED], loads["guardrails"][REVOKED]) == (2, 1, 1)
    assert platform.token_resolver.cache.invalidated >= 2
    if engines_warm is not None:  # SQLite: more tenants than engines kept open, and warm requests open none
        engines = _engines(platform)
        assert engines["open"] <= engines["max"] < len(TENANTS)
        assert engines["opened"] - engines_warm["opened"] <= 2 + sharers, "only the changed tenants reopened"

    usage = _usage_per_tenant(platform)
    assert usage == {s: 2 for s in TENANTS} | {CHANGED: 3, REVOKED: 1}, "N requests, N usage records"
    with platform.store.tenant(CHANGED) as uow:
        assert {r.upstream_model for r in uow.usage.recent(limit=10)} == {"fake-chat", "fake-chat-2"}


async def test_registry_changes_and_sessions_are_scoped_to_their_tenant(platform, client, admin, upstream):
    assert scope_slot("acme") != scope_slot("beta")
    acme, beta = await configure_gateway(admin, upstream.url, "acme"), await configure_gateway(admin, upstream.url, "beta")
    users = {}
    for slug in ("acme", "beta"):
        await admin.create_user(slug, f"ops@{slug}.test")
        users[slug] = AdminApi(client)
        await users[slug].login(f"ops@{slug}.test", "password-123")
        await users[slug].call("GET", "/models", expect=200)
    bearer = {slug: {"Authorization": f"Bearer {gw['token']}"} for slug, gw in (("acme", acme), ("beta", beta))}
    for headers in bearer.values():
        assert (await client.get("/v1/models", headers=headers)).status_code == 200
    token_reads = platform.token_resolver.store_reads

    # A registry change about one tenant (suspension) is that tenant's scope: refused at once ...
    await admin.call("PATCH", "/tenants/acme", json={"status": "suspended"}, expect=200)
    assert (await client.get("/v1/models", headers=bearer["acme"])).status_code == 403
    assert (await users["acme"].call("GET", "/models")).status_code == 403
    assert (await client.get("/v1/models", headers=bearer["beta"])).status_code == 200
    await users["beta"].call("GET", "/models", expect=200)
    assert platform.token_resolver.store_reads == token_reads + 1, "acme's token reloaded, beta's did not"
    sessions, tokens = platform.auth.principals.loads, platform.token_resolver.cache.loads
    assert (tokens["acme"], tokens["beta"]) == (2, 1)
    assert sessions["beta"] == 1, "beta's session stayed warm through acme's change"
    platform_sessions = sessions[PLATFORM_SCOPE]

    # ... and a tenant user's logout ends their sessions only (in every worker: it bumps beta's scope).
    await users["beta"].call("POST", "/auth/logout", expect=204)
    assert (await users["beta"].call("GET", "/models")).status_code == 401
    await admin.call("GET", "/tenants", expect=200)
    assert sessions["beta"] == 2  # reloaded after the logout, found the new session version
    assert sessions[PLATFORM_SCOPE] == platform_sessions, "the platform admin's session stayed warm"
