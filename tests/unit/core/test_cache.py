"""Cache providers: memory (TTL, LRU bound), none, and real Redis including an outage."""

import asyncio
import logging
import time

import pytest
from redis.exceptions import RedisError

from gateway_app.core.cache import MemoryCache, NoCache, RedisCache, create_cache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_cache_get_set_delete():
    cache = MemoryCache()
    assert await cache.get("k") is None
    await cache.set("k", "v")
    assert await cache.get("k") == "v"
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_memory_cache_ttl_expires():
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", "v", ttl=10)
    clock.now += 9.9
    assert await cache.get("k") == "v"
    clock.now += 0.2
    assert await cache.get("k") is None


async def test_memory_cache_is_bounded_and_evicts_least_recently_used():
    cache = MemoryCache(max_entries=3)
    for key in "abc":
        await cache.set(key, key)
    await cache.get("a")  # a is now most recent
    await cache.set("d", "d")
    assert len(cache) == 3
    assert await cache.get("b") is None
    assert await cache.get("a") == "a"


async def test_memory_incr_expiry_is_set_on_creation_only():
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    assert await cache.incr("n", ttl=60) == 1
    clock.now += 30
    assert await cache.incr("n", 5, ttl=60) == 6
    clock.now += 31  # 61 s after creation: the window is over
    assert await cache.incr("n", ttl=60) == 1


async def test_no_cache_misses_but_counts():
    cache = NoCache()
    await cache.set("k", "v")
    assert await cache.get("k") is None
    assert await cache.incr("c") == 1
    assert await cache.incr("c") == 2


def test_factory_builds_the_configured_provider():
    assert isinstance(create_cache("memory"), MemoryCache)
    assert isinstance(create_cache("none"), NoCache)
    assert isinstance(create_cache("redis", redis_url="redis://127.0.0.1:1/0"), RedisCache)


@pytest.fixture
async def redis_cache(redis_server):
    cache = RedisCache(redis_server.url, prefix=f"t{time.monotonic_ns()}:")
    yield cache
    await cache.close()


async def test_redis_get_set_ttl_delete(redis_cache):
    await redis_cache.set("k", "v", ttl=0.3)
    assert await redis_cache.get("k") == "v"
    await asyncio.sleep(0.4)
    assert await redis_cache.get("k") is None
    await redis_cache.set("k2", "v2")
    await redis_cache.delete("k2")
    assert await redis_cache.get("k2") is None


async def test_redis_counters_are_shared_between_clients(redis_server):
    prefix = f"shared{time.monotonic_ns()}:"
    first, second = RedisCache(redis_server.url, prefix=prefix), RedisCache(redis_server.url, prefix=prefix)
    try:
        assert await first.incr("rpm", ttl=60) == 1
        assert await second.incr("rpm", ttl=60) == 2
        assert await first.incr("rpm", 10) == 12
        ttl_ms = await first.client.pttl(prefix + "rpm")
        assert 0 < ttl_ms <= 60_000
    finally:
        await first.close()
        await second.close()


async def test_redis_outage_degrades_to_misses_and_local_counters(redis_server, redis_cache, caplog):
    await redis_cache.set("k", "v")
    redis_server.pause()
    try:
        with caplog.at_level(logging.WARNING, logger="gatehouse.cache"):
            started = time.perf_counter()
            assert await redis_cache.get("k") is None  # a miss, not an exception
            assert await redis_cache.incr("c") == 1  # counted locally
            assert await redis_cache.incr("c") == 2
            await redis_cache.set("x", "y")  # skipped quietly
            elapsed = time.perf_counter() - started
        assert redis_cache.failures >= 1
        assert elapsed < 2.0, "after the first timeout Redis is skipped, not waited on again"
        assert any("redis unavailable" in r.getMessage() for r in caplog.records)
        with pytest.raises((RedisError, OSError, TimeoutError)):
            await redis_cache.ping()  # the health check still reports the outage
    finally:
        redis_server.resume()
    redis_cache._down_until = 0.0  # skip the back-off window instead of sleeping through it
    assert await redis_cache.get("k") == "v"
