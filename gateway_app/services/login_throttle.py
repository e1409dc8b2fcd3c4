"""Failed logins slow down: per e-mail and per client address, exponential delays, shared via the cache.

A few failures are free; after that each failure locks the key for 1, 2, 4, ... seconds (capped).
A locked key answers 429 with Retry-After before any password is hashed, so a flood costs no CPU.
Known and unknown e-mails are counted alike. With CACHE_PROVIDER=redis the counts are shared by
every worker and host; with the memory cache each process counts on its own.
"""

from __future__ import annotations

import hashlib
import math
import time

from gateway_app.core.cache import Cache
from gateway_app.core.errors import GatehouseError


class LoginThrottled(GatehouseError):
    """Too many failed logins for this e-mail or address: 429 with Retry-After."""

    code = "too_many_login_attempts"
    status = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed logins; try again in {seconds} s")
        self.headers = {"Retry-After": str(seconds)}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]  # keys never hold an e-mail in clear


class LoginThrottle:
    """Counts failures per e-mail and per client address and turns them into delays."""

    def __init__(self, cache: Cache, *, free_per_email: int = 5, free_per_address: int = 20,
                 max_delay: float = 900.0, window: float = 3600.0, clock=time.time) -> None:
        self._cache = cache
        self._free = {"e": free_per_email, "a": free_per_address}
        self._max_delay = max_delay
        self._window = window
        self._clock = clock

    def _keys(self, email: str, address: str) -> list[tuple[str, str]]:
        keys = [("e", _digest(email))]
        if address:
            keys.append(("a", _digest(address)))
        return keys

    async def check(self, email: str, address: str = "") -> None:
        """Raise LoginThrottled while the e-mail or the address is locked."""
        now = self._clock()
        waits = []
        for kind, key in self._keys(email, address):
            until = await self._cache.get(f"login:lock:{kind}:{key}")
            if until is not None and float(until) > now:
                waits.append(float(until) - now)
        if waits:
            raise LoginThrottled(max(waits))

    async def failed(self, email: str, address: str = "") -> None:
        """Count a failure; past the free ones, lock the key for an exponentially growing delay."""
        now = self._clock()
        for kind, key in self._keys(email, address):
            count = await self._cache.incr(f"login:fail:{kind}:{key}", 1, ttl=self._window)
            over = count - self._free[kind]
            if over > 0:
                delay = min(self._max_delay, 2.0 ** (over - 1))
                await self._cache.set(f"login:lock:{kind}:{key}", str(now + delay), ttl=delay + 1)

    async def succeeded(self, email: str) -> None:
        """A correct password clears the e-mail's failures (the address keeps its count)."""
        key = _digest(email)
        await self._cache.delete(f"login:fail:e:{key}", f"login:lock:e:{key}")
