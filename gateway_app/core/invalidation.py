"""Cross-process invalidation of hot-path lookups (tokens, models, providers).

Hot-path lookups live in a process-local cache so a request needs no network round trip. When an
operator changes something, the service bumps a generation; every process notices and drops its
local entries before its next lookup:
- FileGeneration: a counter in a small file under DATA_DIR, memory-mapped by every process, so a
  lookup reads memory rather than the disk. Covers several workers on one host with no Redis.
- RedisGeneration: PUBLISH on change, a subscriber task keeps a local copy; zero cost per
  lookup and shared across hosts. Falls back to the file while Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import fcntl
import mmap
import os
import struct
import time
from collections import OrderedDict
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from gateway_app.core.logging import get_logger

log = get_logger("invalidation")
V = TypeVar("V")


class Generation(Protocol):
    """A number that changes whenever cached configuration may be stale."""

    def current(self) -> object: ...
    def notify(self) -> None: ...
    async def bump(self) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class FileGeneration:
    """Generation kept in an 8-byte file mapped into memory by every process on the host.

    Reading it is a memory read (no system call), so it can be checked before every lookup; a
    bump rewrites the counter under a file lock.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)
        self._local = 0

    def current(self) -> object:
        return (self._map[:8], self._local)

    def bump_now(self) -> None:
        """Synchronous bump, for callers on worker threads."""
        self._local += 1  # this process sees its own change at once, whatever happens below
        with open(self._path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                value = struct.unpack_from("<Q", self._map, 0)[0] + 1
                struct.pack_into("<Q", self._map, 0, value)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def notify(self) -> None:
        """Bump from any thread (services run in worker threads)."""
        self.bump_now()

    async def bump(self) -> None:
        self.bump_now()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisGeneration:
    """Generation shared through Redis pub/sub, with the file generation as a local fallback."""

    CHANNEL = "gh:invalidate"

    def __init__(self, redis_cache, file_generation: FileGeneration) -> None:
        self._redis = redis_cache
        self._file = file_generation
        self._remote = 0
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def current(self) -> object:
        return (self._remote, self._file.current())

    def notify(self) -> None:
        """Bump from any thread: local at once, remote via the event loop."""
        self._file.bump_now()
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._publish(), self._loop)

    async def bump(self) -> None:
        self._file.bump_now()
        await self._publish()

    async def _publish(self) -> None:
        try:
            await self._redis.client.publish(self.CHANNEL, "1")
        except Exception as exc:  # noqa: BLE001 - Redis outage: local file still invalidates
            log.warning("invalidation not published to redis", extra={"error": repr(exc)})

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._listen(), name="gatehouse-invalidation")

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.client.pubsub()
                await pubsub.subscribe(self.CHANNEL)
                self._remote += 1  # (re)subscribed: whatever we missed is now stale
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._remote += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep listening across Redis restarts
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass


class LocalLookupCache(Generic[V]):
    """Process-local TTL + LRU cache that empties itself when the generation changes."""

    def __init__(self, generation: Generation, ttl: float = 60.0, max_entries: int = 10_000,
                 clock=time.monotonic) -> None:
        self._generation = generation
        self._seen = generation.current()
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[V, float]] = OrderedDict()

    def _check_generation(self) -> None:
        gen = self._generation.current()
        if gen != self._seen:
            self._seen = gen
            self._data.clear()

    def get(self, key: str) -> V | None:
        """The cached value, or None when absent, expired or invalidated."""
        self._check_generation()
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._data[key]
            return None
        return item[0]

    def generation(self) -> object:
        """Take before loading a value; pass to put() so a value loaded across a change is not kept."""
        return self._generation.current()

    def put(self, key: str, value: V, generation: object = None) -> None:
        """Store a value for the TTL (skipped if the generation moved since it was loaded)."""
        self._check_generation()
        if generation is not None and generation != self._seen:
            return
        self._data[key] = (value, self._clock() + self._ttl)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def discard(self, key: str) -> None:
        """Drop one entry from this process."""
        self._data.pop(key, None)

    def clear(self) -> None:
        """Drop everything from this process."""
        self._data.clear()
