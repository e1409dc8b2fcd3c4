"""Cache and atomic counters: none, in-process memory (TTL + LRU bound) or Redis.

Values are strings; callers encode. A Redis outage never fails a request: reads become misses,
writes are skipped and counters fall back to this process, with a rate-limited warning.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

from gateway_app.core.logging import get_logger

log = get_logger("cache")


class Cache(Protocol):
    """What every cache provider offers."""

    name: str

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int: ...
    async def incr_many(self, items: list[tuple[str, int, float | None]]) -> list[int]: ...
    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryCache:
    """In-process cache: LRU bounded by entry count, per-entry TTL on a monotonic clock."""

    name = "memory"

    def __init__(self, max_entries: int = 50_000, clock=time.monotonic) -> None:
        self._data: OrderedDict[str, tuple[object, float | None]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    def _live(self, key: str) -> tuple[object, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item

    def _store(self, key: str, value: object, expires: float | None) -> None:
        self._data[key] = (value, expires)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    async def get(self, key: str) -> str | None:
        item = self._live(key)
        return None if item is None else str(item[0])

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._store(key, value, self._expiry(ttl))

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    def incr_now(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Synchronous increment; the expiry is set when the counter is created (like INCR + EXPIRE NX)."""
        item = self._live(key)
        if item is None:
            value, expires = amount, self._expiry(ttl)
        else:
            value, expires = int(item[0]) + amount, item[1]  # type: ignore[call-overload]
        self._store(key, value, expires)
        return value

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return self.incr_now(key, amount, ttl)

    async def incr_many(self, items: list[tuple[str, int, float | None]]) -> list[int]:
        return [self.incr_now(key, amount, ttl) for key, amount, ttl in items]

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._store(key, value, self._expiry(ttl))
        return True

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class NoCache:
    """Caching off: every read misses. Counters still work, in this process, so quotas hold."""

    name = "none"

    def __init__(self) -> None:
        self._counters = MemoryCache(max_entries=100_000)

    async def get(self, key: str) -> str | None:
        return None

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        return None

    async def delete(self, *keys: str) -> None:
        await self._counters.delete(*keys)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return self._counters.incr_now(key, amount, ttl)

    async def incr_many(self, items: list[tuple[str, int, float | None]]) -> list[int]:
        return await self._counters.incr_many(items)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        return await self._counters.set_if_absent(key, value, ttl)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        await self._counters.close()


class RedisCache:
    """Redis-backed cache shared by replicas, degrading to misses while Redis is unreachable."""

    name = "redis"
    _RETRY_AFTER = 2.0  # seconds to skip Redis after a failure, so an outage adds no latency
    _WARN_EVERY = 10.0

    def __init__(self, url: str, prefix: str = "gh:", timeout: float = 0.5, clock=time.monotonic) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True,
        )
        self._prefix = prefix
        self._clock = clock
        self._down_until = 0.0
        self._last_warning = -1e9
        self._fallback = MemoryCache(max_entries=100_000, clock=clock)
        self.failures = 0

    @property
    def client(self):
        """The underlying redis.asyncio client (for pub/sub and pipelines)."""
        return self._client

    @property
    def available(self) -> bool:
        """False while a recent failure keeps Redis skipped."""
        return self._clock() >= self._down_until

    def _failed(self, op: str, exc: BaseException) -> None:
        self.failures += 1
        now = self._clock()
        self._down_until = now + self._RETRY_AFTER
        if now - self._last_warning >= self._WARN_EVERY:
            self._last_warning = now
            log.warning("redis unavailable, degrading to local cache", extra={"op": op, "error": repr(exc)})

    async def get(self, key: str) -> str | None:
        if not self.available:
            return None
        try:
            return await self._client.get(self._prefix + key)
        except Exception as exc:  # noqa: BLE001 - any client error is an outage here
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        if not self.available:
            return
        try:
            px = int(ttl * 1000) if ttl else None
            await self._client.set(self._prefix + key, value, px=px)
        except Exception as exc:  # noqa: BLE001
            self._failed("set", exc)

    async def delete(self, *keys: str) -> None:
        await self._fallback.delete(*keys)
        if not keys or not self.available:
            return
        try:
            await self._client.delete(*(self._prefix + k for k in keys))
        except Exception as exc:  # noqa: BLE001
            self._failed("delete", exc)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return (await self.incr_many([(key, amount, ttl)]))[0]

    async def incr_many(self, items: list[tuple[str, int, float | None]]) -> list[int]:
        """Several increments in one round trip (a MULTI pipeline)."""
        if self.available:
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    for key, amount, ttl in items:
                        pipe.incrby(self._prefix + key, amount)
                        if ttl:
                            pipe.pexpire(self._prefix + key, int(ttl * 1000), nx=True)
                    result = await pipe.execute()
                step = [2 if ttl else 1 for _, _, ttl in items]
                values, index = [], 0
                for size in step:
                    values.append(int(result[index]))
                    index += size
                return values
            except Exception as exc:  # noqa: BLE001
                self._failed("incr_many", exc)
        return await self._fallback.incr_many(items)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self.available:
            try:
                px = int(ttl * 1000) if ttl else None
                return bool(await self._client.set(self._prefix + key, value, px=px, nx=True))
            except Exception as exc:  # noqa: BLE001
                self._failed("set_if_absent", exc)
        return await self._fallback.set_if_absent(key, value, ttl)

    async def ping(self) -> None:
        """Raise when Redis does not answer (used by the health check, never skipped)."""
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def create_cache(provider: str, *, redis_url: str = "", max_entries: int = 50_000) -> Cache:
    """Build the configured cache provider."""
    if provider == "redis":
        return RedisCache(redis_url)
    if provider == "none":
        return NoCache()
    return MemoryCache(max_entries=max_entries)
