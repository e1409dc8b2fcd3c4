"""Cross-process invalidation of hot-path lookups (file generation and Redis pub/sub)."""

import asyncio

from gateway_app.core.cache import RedisCache
from gateway_app.core.invalidation import FileGeneration, LocalLookupCache, RedisGeneration


def test_file_generation_is_seen_by_another_instance(tmp_path):
    path = tmp_path / ".invalidation"
    here, elsewhere = FileGeneration(path), FileGeneration(path)  # two processes, one file
    cache = LocalLookupCache(elsewhere, ttl=60)
    cache.put("token", "valid")
    assert cache.get("token") == "valid"
    here.notify()
    assert cache.get("token") is None


def test_value_loaded_across_a_change_is_not_kept(tmp_path):
    generation = FileGeneration(tmp_path / ".gen")
    cache = LocalLookupCache(generation, ttl=60)
    seen = cache.generation()
    generation.notify()  # a revocation lands while the value was being loaded
    cache.put("token", "stale", seen)
    assert cache.get("token") is None


def test_entries_expire_and_are_bounded(tmp_path):
    now = [0.0]
    cache = LocalLookupCache(FileGeneration(tmp_path / ".g"), ttl=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert cache.get("a") is None and cache.get("c") == 3
    now[0] = 11
    assert cache.get("c") is None


async def test_redis_generation_reaches_another_host(redis_server, tmp_path):
    # Different files: only Redis connects the two "hosts".
    cache_a, cache_b = RedisCache(redis_server.url), RedisCache(redis_server.url)
    gen_a = RedisGeneration(cache_a, FileGeneration(tmp_path / "a"))
    gen_b = RedisGeneration(cache_b, FileGeneration(tmp_path / "b"))
    await gen_a.start()
    await gen_b.start()
    try:
        await asyncio.sleep(0.2)  # subscriptions established
        lookups = LocalLookupCache(gen_b, ttl=60)
        lookups.put("token", "valid")
        await gen_a.bump()
        for _ in range(50):
            if lookups.get("token") is None:
                break
            await asyncio.sleep(0.01)
        assert lookups.get("token") is None
    finally:
        await gen_a.stop()
        await gen_b.stop()
        await cache_a.close()
        await cache_b.close()
