"""Cross-process invalidation of hot-path lookups (tokens, models, policies), scoped per tenant.

Hot-path lookups live in a process-local cache so a request needs no network round trip. When an
operator changes something, the service bumps the generation of the *scope* it changed (a tenant
slug, or the platform scope); every process notices before its next lookup of an entry of that
scope, and entries of other scopes stay warm:
- FileGeneration: a table of counters (one per slot; a scope hashes to a slot) in a small file
  under DATA_DIR, memory-mapped by every process, so a lookup reads memory rather than the disk.
  Covers several workers on one host with no Redis.
- RedisGeneration: PUBLISH the scope on change, a subscriber task counts per slot; zero cost per
  lookup and shared across hosts. The file still invalidates the host while Redis is unreachable.
Two scopes sharing a slot invalidate each other: a spurious reload, never a stale value.
"""

from __future__ import annotations

import asyncio
import fcntl
import mmap
import os
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.logging import get_logger

log = get_logger("invalidation")
V = TypeVar("V")

SLOTS = 4096  # 32 KiB of counters; ~11 slot-sharing pairs expected among 300 tenants
PLATFORM_SCOPE = "@platform"  # platform admins, registry changes about no one tenant (not a valid slug)
EVERY_SCOPE = "*"  # everything: a direct store edit, a resubscription that may have missed messages
_LEGACY_MESSAGE = "1"  # what peers from before scoped invalidation publish: treat as every scope

Reader = Callable[[int], int]
Stamp = tuple[str, int, int]  # (scope, slot, slot value when the load began)


def scope_slot(scope: str) -> int:
    """The slot of a scope: the same in every process and host (crc32, not the salted hash())."""
    if scope == PLATFORM_SCOPE:
        return 0
    return 1 + zlib.crc32(scope.encode()) % (SLOTS - 1)


def _slots_of(scope: str) -> range | tuple[int]:
    return range(SLOTS) if scope == EVERY_SCOPE else (scope_slot(scope),)


class Generation(Protocol):
    """Counters per scope that move whenever cached configuration of that scope may be stale."""

    def reader(self) -> Reader: ...
    def notify(self, scope: str) -> None: ...
    async def bump(self, scope: str) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class FileGeneration:
    """Counters kept in a file of SLOTS x 8 bytes mapped into memory by every process on the host.

    Reading a slot is one indexed memory read (no system call), so it can be checked on every
    lookup; a bump increments slots under a file lock. Native byte order: the file never leaves
    the host.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOTS * 8:
                os.ftruncate(fd, SLOTS * 8)  # zero-filled; concurrent starters truncate to the same size
            self._map = mmap.mmap(fd, SLOTS * 8)
        finally:
            os.close(fd)
        self._cells = memoryview(self._map).cast("Q")

    def reader(self) -> Reader:
        """slot -> counter: a C-level index into the shared map."""
        return self._cells.__getitem__

    def value(self, scope: str) -> int:
        """The counter of a scope's slot (tests, diagnostics)."""
        return self._cells[scope_slot(scope)]

    def bump_now(self, scope: str) -> None:
        """Synchronous bump, for callers on worker threads."""
        slots = _slots_of(scope)
        locked = False
        try:
            # A fresh open file description per bump: flock then excludes other threads too.
            with open(self._path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                locked = True
                try:
                    self._increment(slots)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError as exc:
            if locked:
                raise
            # The file went away under us: still bump the map, so this process sees its own change.
            log.error("invalidation file lock failed; bumping without it", extra={"error": repr(exc)})
            self._increment(slots)

    def _increment(self, slots: range | tuple[int]) -> None:
        for slot in slots:
            self._cells[slot] += 1

    def notify(self, scope: str) -> None:
        """Bump from any thread (services run in worker threads)."""
        self.bump_now(scope)

    async def bump(self, scope: str) -> None:
        self.bump_now(scope)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisGeneration:
    """Counters shared through Redis pub/sub (the scope is the message), plus the host's file."""

    CHANNEL = "gh:invalidate"

    def __init__(self, redis_cache, file_generation: FileGeneration) -> None:
        self._redis = redis_cache
        self._file = file_generation
        self._remote = [0] * SLOTS  # messages received per slot
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def reader(self) -> Reader:
        """slot -> remote count + file counter: both only grow, so any bump changes the sum."""
        remote, local = self._remote, self._file.reader()

        def read(slot: int) -> int:
            return remote[slot] + local(slot)

        return read

    def received(self, message: str) -> None:
        """Count one published scope (an unknown or legacy message stales every scope)."""
        scope = EVERY_SCOPE if message == _LEGACY_MESSAGE else message
        for slot in _slots_of(scope):
            self._remote[slot] += 1

    def notify(self, scope: str) -> None:
        """Bump from any thread: local at once, remote via the event loop."""
        self._file.bump_now(scope)
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._publish(scope), self._loop)

    async def bump(self, scope: str) -> None:
        self._file.bump_now(scope)
        await self._publish(scope)

    async def _publish(self, scope: str) -> None:
        try:
            await self._redis.client.publish(self.CHANNEL, scope)
        except Exception as exc:  # noqa: BLE001 - Redis outage: local file still invalidates
            log.warning("invalidation not published to redis", extra={"error": repr(exc), "scope": scope})

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._listen(), name="gatehouse-invalidation")

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.client.pubsub()
                await pubsub.subscribe(self.CHANNEL)
                self.received(EVERY_SCOPE)  # (re)subscribed: whatever we missed is now stale
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message.get("data")
                        self.received(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep listening across Redis restarts
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        await stop_tasks([self._task])


class LocalLookupCache(Generic[V]):
    """Process-local TTL + LRU cache; an entry is stale once the generation of its scope moved."""

    def __init__(self, generation: Generation, ttl: float = 60.0, max_entries: int = 10_000,
                 clock=time.monotonic) -> None:
        self._read = generation.reader()
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[V, float, int, int]] = OrderedDict()  # value, expiry, slot, seen
        self.loads: Counter[str] = Counter()  # values offered to put() per scope: cold loads, observable
        self.invalidated = 0  # entries dropped because their scope moved
        self.hits = self.misses = 0  # lookups so far (metrics: the hit ratio)

    def get(self, key: str) -> V | None:
        """The cached value, or None when absent, expired or invalidated."""
        item = self._data.get(key)
        if item is None:
            self.misses += 1
            return None
        if item[3] != self._read(item[2]):
            del self._data[key]
            self.invalidated += 1
            self.misses += 1
            return None
        if item[1] <= self._clock():
            del self._data[key]
            self.misses += 1
            return None
        self.hits += 1
        return item[0]

    def generation(self, scope: str) -> Stamp:
        """Take before loading a value of `scope` (any thread); pass to put() so a value loaded
        across a change of that scope is not kept."""
        slot = scope_slot(scope)
        return scope, slot, self._read(slot)

    def put(self, key: str, value: V, stamp: Stamp, ttl: float | None = None) -> None:
        """Store a value for the TTL (skipped if its scope's generation moved since the stamp)."""
        scope, slot, seen = stamp
        self.loads[scope] += 1
        if self._read(slot) != seen:
            return
        self._data[key] = (value, self._clock() + (self._ttl if ttl is None else ttl), slot, seen)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def get_or_load(self, key: str, scope: str, load: Callable[[], V]) -> V:
        """The cached value, else `load()` run in a worker thread and kept (stamped before loading)."""
        found = self.get(key)
        if found is None:
            stamp = self.generation(scope)
            found = await anyio.to_thread.run_sync(load)
            self.put(key, found, stamp)
        return found

    def discard(self, key: str) -> None:
        """Drop one entry from this process."""
        self._data.pop(key, None)

    def clear(self) -> None:
        """Drop everything from this process."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
