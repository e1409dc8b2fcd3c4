"""Pool of long-lived clients (one per provider), closing what it replaces, evicts or finds idle."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from gateway_app.core.logging import get_logger

log = get_logger("runtime_pool")
C = TypeVar("C")


async def _close(client: object) -> None:
    for name in ("aclose", "close"):
        method = getattr(client, name, None)
        if method is None:
            continue
        result = method()
        if inspect.isawaitable(result):
            await result
        return


class RuntimePool(Generic[C]):
    """Hands out one client per key; a changed fingerprint (new config) builds a fresh client.

    Replaced or evicted clients are closed after a grace period, so requests still using them
    finish first. The pool holds a client per active provider (with shared connections a client is
    a few KB: a session object and its headers), up to `max_size`; one unused for `idle_seconds` is
    closed, so the pool follows the set of active tenants instead of thrashing at a fixed size.
    """

    def __init__(self, max_size: int = 10_000, close_grace: float = 30.0, idle_seconds: float = 600.0,
                 clock=time.monotonic) -> None:
        self._max = max_size
        self._grace = close_grace
        self._idle = idle_seconds
        self._clock = clock
        self._clients: OrderedDict[str, list] = OrderedDict()  # key -> [fingerprint, client, last used]; LRU order
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: dict[asyncio.Task, C] = {}
        self._next_sweep = clock() + min(60.0, idle_seconds)
        self.closed_count = 0
        self.built_count = 0

    async def get(self, key: str, fingerprint: str, factory: Callable[[], C | Awaitable[C]]) -> C:
        """The pooled client for key, building it with factory when missing or stale."""
        now = self._clock()
        entry = self._clients.get(key)
        if entry is not None and entry[0] == fingerprint:
            entry[2] = now
            self._clients.move_to_end(key)
            if now >= self._next_sweep:
                self._sweep(now)
            return entry[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._clients.get(key)
            if entry is not None and entry[0] == fingerprint:
                return entry[1]
            client = factory()
            if inspect.isawaitable(client):
                client = await client
            self.built_count += 1
            if entry is not None:
                self._retire(entry[1])
            self._clients[key] = [fingerprint, client, now]
            self._clients.move_to_end(key)
            while len(self._clients) > self._max:
                evicted_key, (_, evicted, _) = self._clients.popitem(last=False)
                self._locks.pop(evicted_key, None)
                self._retire(evicted)
            return client  # type: ignore[return-value]

    def _sweep(self, now: float) -> None:
        """Retire clients unused for idle_seconds (the oldest are first in LRU order)."""
        self._next_sweep = now + min(60.0, self._idle)
        while self._clients:
            key, entry = next(iter(self._clients.items()))
            if now - entry[2] < self._idle:
                break
            del self._clients[key]
            self._locks.pop(key, None)
            self._retire(entry[1])

    def _retire(self, client: C) -> None:
        async def later() -> None:
            await asyncio.sleep(self._grace)
            await self._close_one(client)

        task = asyncio.get_running_loop().create_task(later())
        self._closing[task] = client
        task.add_done_callback(lambda t: self._closing.pop(t, None))

    async def _close_one(self, client: C) -> None:
        try:
            await _close(client)
            self.closed_count += 1
        except Exception:  # noqa: BLE001 - a failing close must not stop the others
            log.exception("closing pooled client failed")

    async def invalidate(self, key: str) -> None:
        """Forget a key's client (its config was deleted); close it after the grace period."""
        entry = self._clients.pop(key, None)
        self._locks.pop(key, None)
        if entry is not None:
            self._retire(entry[1])

    def __len__(self) -> int:
        return len(self._clients)

    async def close_all(self) -> None:
        """Close every client now, including those waiting out their grace period."""
        retiring = list(self._closing.items())
        self._closing.clear()
        for task, _ in retiring:
            task.cancel()
        clients = [client for _, client in retiring] + [entry[1] for entry in self._clients.values()]
        self._clients.clear()
        for client in clients:
            await self._close_one(client)
