"""Cross-process invalidation of hot-path lookups, scoped per tenant (file table and Redis pub/sub)."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from gateway_app.core.cache import RedisCache
from gateway_app.core.invalidation import (
    EVERY_SCOPE,
    PLATFORM_SCOPE,
    SLOTS,
    FileGeneration,
    LocalLookupCache,
    RedisGeneration,
    scope_slot,
)

ROOT = Path(__file__).resolve().parents[3]


def _cached(cache: LocalLookupCache, key: str, value, scope: str) -> None:
    cache.put(key, value, cache.generation(scope))


def test_a_tenants_change_keeps_other_tenants_entries(tmp_path):
    path = tmp_path / ".invalidation"
    here, elsewhere = FileGeneration(path), FileGeneration(path)  # two processes, one file
    assert scope_slot("acme") != scope_slot("beta")
    cache = LocalLookupCache(elsewhere, ttl=60)
    _cached(cache, "acme-token", "a", "acme")
    _cached(cache, "beta-token", "b", "beta")
    _cached(cache, "admin", "p", PLATFORM_SCOPE)
    here.notify("acme")
    assert cache.get("acme-token") is None
    assert cache.get("beta-token") == "b" and cache.get("admin") == "p"
    assert cache.invalidated == 1
    here.notify(PLATFORM_SCOPE)
    assert cache.get("admin") is None and cache.get("beta-token") == "b"


def test_every_scope_empties_everything(tmp_path):
    generation = FileGeneration(tmp_path / ".g")
    cache = LocalLookupCache(generation, ttl=60)
    for scope in ("acme", "beta", PLATFORM_SCOPE):
        _cached(cache, scope, scope, scope)
    generation.notify(EVERY_SCOPE)
    assert [cache.get(s) for s in ("acme", "beta", PLATFORM_SCOPE)] == [None, None, None]


def test_value_loaded_across_a_change_of_its_scope_is_not_kept(tmp_path):
    generation = FileGeneration(tmp_path / ".gen")
    cache = LocalLookupCache(generation, ttl=60)
    acme, beta = cache.generation("acme"), cache.generation("beta")
    generation.notify("acme")  # a revocation in acme lands while both values were being loaded
    cache.put("acme-token", "stale", acme)
    cache.put("beta-token", "fresh", beta)
    assert cache.get("acme-token") is None
    assert cache.get("beta-token") == "fresh", "another tenant's change does not discard a load"
    assert cache.loads == {"acme": 1, "beta": 1}


def test_slots_are_stable_and_the_platform_has_slot_zero():
    assert scope_slot(PLATFORM_SCOPE) == 0
    slots = {scope_slot(f"tenant-{i}") for i in range(1000)}
    assert 0 not in slots and max(slots) < SLOTS and len(slots) > 800  # spread over the table


def test_a_bump_in_another_process_is_seen_through_the_file(tmp_path):
    path = tmp_path / ".invalidation"
    generation = FileGeneration(path)
    cache = LocalLookupCache(generation, ttl=60)
    _cached(cache, "acme-token", "a", "acme")
    _cached(cache, "beta-token", "b", "beta")
    script = ("import sys; from gateway_app.core.invalidation import FileGeneration, scope_slot; "
              "FileGeneration(sys.argv[1]).notify('acme'); print(scope_slot('acme'))")
    # A different hash seed in the child: Python's own hash() would put 'acme' in another slot there.
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                           check=True, timeout=60)
    assert int(child.stdout) == scope_slot("acme")
    assert cache.get("acme-token") is None
    assert cache.get("beta-token") == "b"
    assert generation.value("acme") == 1 and generation.value("beta") == 0


def test_a_bump_survives_the_file_being_removed(tmp_path):
    path = tmp_path / ".g"
    generation = FileGeneration(path)
    cache = LocalLookupCache(generation, ttl=60)
    _cached(cache, "k", "v", "acme")
    path.unlink()
    generation.notify("acme")  # no lock to take any more: this process still sees its own change
    assert cache.get("k") is None


def test_entries_expire_and_are_bounded(tmp_path):
    now = [0.0]
    cache = LocalLookupCache(FileGeneration(tmp_path / ".g"), ttl=10, max_entries=2, clock=lambda: now[0])
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        _cached(cache, key, value, "acme")
    assert cache.get("a") is None and cache.get("c") == 3
    cache.put("short", 4, cache.generation("acme"), ttl=1)
    now[0] = 2
    assert cache.get("short") is None and cache.get("c") == 3
    now[0] = 11
    assert cache.get("c") is None


async def _until(condition, tries: int = 100) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_redis_generation_carries_the_scope_to_another_host(redis_server, tmp_path):
    # Different files: only Redis connects the two "hosts".
    cache_a, cache_b = RedisCache(redis_server.url), RedisCache(redis_server.url)
    gen_a = RedisGeneration(cache_a, FileGeneration(tmp_path / "a"))
    gen_b = RedisGeneration(cache_b, FileGeneration(tmp_path / "b"))
    await gen_a.start()
    await gen_b.start()
    try:
        await asyncio.sleep(0.2)  # subscriptions established
        lookups = LocalLookupCache(gen_b, ttl=60)
        _cached(lookups, "acme-token", "a", "acme")
        _cached(lookups, "beta-token", "b", "beta")
        await gen_a.bump("acme")
        assert await _until(lambda: lookups.get("acme-token") is None)
        assert lookups.get("beta-token") == "b"
        _cached(lookups, "admin", "p", PLATFORM_SCOPE)
        await asyncio.to_thread(gen_a.notify, PLATFORM_SCOPE)  # as a service in a worker thread does
        assert await _until(lambda: lookups.get("admin") is None)
        assert lookups.get("beta-token") == "b"
    finally:
        await gen_a.stop()
        await gen_b.stop()
        await cache_a.close()
        await cache_b.close()


async def test_a_message_from_an_older_peer_empties_every_scope(redis_server, tmp_path):
    publisher, cache = RedisCache(redis_server.url), RedisCache(redis_server.url)
    generation = RedisGeneration(cache, FileGeneration(tmp_path / "b"))
    await generation.start()
    try:
        await asyncio.sleep(0.2)
        lookups = LocalLookupCache(generation, ttl=60)
        _cached(lookups, "beta-token", "b", "beta")
        await publisher.client.publish(RedisGeneration.CHANNEL, "1")  # before scopes, every change said "1"
        assert await _until(lambda: lookups.get("beta-token") is None)
    finally:
        await generation.stop()
        await publisher.close()
        await cache.close()


def test_a_resubscription_stales_every_scope(tmp_path):
    generation = RedisGeneration(None, FileGeneration(tmp_path / "g"))
    lookups = LocalLookupCache(generation, ttl=60)
    _cached(lookups, "beta-token", "b", "beta")
    _cached(lookups, "admin", "p", PLATFORM_SCOPE)
    generation.received(EVERY_SCOPE)  # what the listener does after (re)subscribing
    assert lookups.get("beta-token") is None and lookups.get("admin") is None
