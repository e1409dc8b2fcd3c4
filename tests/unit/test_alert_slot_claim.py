"""Alert scheduler slots: of several processes (or hosts) claiming a slot, exactly one wins."""

import time

import pytest

from gateway_app.core.cache import MemoryCache, RedisCache
from gateway_app.services.alerts.scheduler import SlotClaim


@pytest.mark.redis
async def test_redis_gives_each_slot_to_one_claimant(redis_server, tmp_path):
    prefix = f"t{time.monotonic_ns()}:"
    caches = [RedisCache(redis_server.url, prefix=prefix) for _ in range(3)]
    hosts = [SlotClaim(cache, tmp_path / f"host{i}") for i, cache in enumerate(caches)]
    try:
        for slot in (100, 101, 102):
            won = [await claim.claim(slot) for claim in hosts]
            assert won.count(True) == 1, "separate hosts share Redis: one winner"
    finally:
        for cache in caches:
            await cache.close()


async def test_without_redis_the_processes_of_a_host_share_files(tmp_path):
    processes = [SlotClaim(MemoryCache(), tmp_path / "alerts") for _ in range(2)]
    assert [await p.claim(7) for p in processes] == [True, False]
    assert [await p.claim(8) for p in reversed(processes)] == [True, False]
    for slot in range(9, 30):
        await processes[0].claim(slot)
    assert len(list((tmp_path / "alerts").glob("slot-*"))) <= 12, "old slots are tidied away"
