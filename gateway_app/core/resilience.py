"""Retries with jittered exponential back-off (honouring Retry-After) and per-key circuit breakers."""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pybreaker
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

CircuitOpenError = pybreaker.CircuitBreakerError


class RetryableError(Exception):
    """An upstream failure worth another attempt; carries the server's Retry-After if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


class wait_retry_after_or_jitter(wait_base):
    """Wait what the server asked for (capped), else exponential back-off with jitter."""

    def __init__(self, initial: float = 0.2, maximum: float = 5.0, jitter: float = 0.2,
                 retry_after_cap: float = 30.0) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=jitter)
        self._cap = retry_after_cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self._cap)
        return self._backoff(retry_state)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    attempts: int = 3
    initial_wait: float = 0.2
    max_wait: float = 5.0
    jitter: float = 0.2
    retry_after_cap: float = 30.0

    def retrying(self, retry_on: Callable[[BaseException], bool] | None = None) -> AsyncRetrying:
        """An AsyncRetrying that re-raises the last error when attempts run out."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_retry_after_or_jitter(self.initial_wait, self.max_wait, self.jitter, self.retry_after_cap),
            retry=retry_if_exception(retry_on or (lambda e: isinstance(e, RetryableError))),
            reraise=True,
        )


@dataclass(frozen=True, slots=True)
class BreakerState:
    """What an operator sees of one breaker."""

    key: str
    state: str  # closed | open | half-open
    failures: int
    opened_at: float | None


class _StateChanges(pybreaker.CircuitBreakerListener):
    """The state each breaker was created in or changed to, until taken (the loop notes, a thread takes).

    The state comes from the notification itself: pybreaker notifies before it stores the new
    state, so a reader asking the breaker at that moment would get the old one (and never again).
    """

    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()

    def note(self, key: str, state: str) -> None:
        """Remember a key's latest state."""
        with self._lock:
            self._states[key] = state

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:
        """pybreaker's hook: the breaker opened, half-opened or closed."""
        self.note(cb.name, new_state.name)

    def take(self) -> dict[str, str]:
        """The states noted so far, forgotten here."""
        with self._lock:
            states, self._states = self._states, {}
        return states


class BreakerRegistry:
    """One pybreaker.CircuitBreaker per key (e.g. per provider), created on first use."""

    def __init__(self, fail_max: int = 5, reset_timeout: float = 30.0,
                 ignore: Callable[[BaseException], bool] | None = None) -> None:
        self._fail_max = fail_max
        self._reset_timeout = reset_timeout
        self._exclude = [ignore] if ignore else []  # errors that say nothing about the key's health
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}
        self._changes = _StateChanges()

    def get(self, key: str) -> pybreaker.CircuitBreaker:
        """The breaker for a key."""
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = pybreaker.CircuitBreaker(
                fail_max=self._fail_max, reset_timeout=self._reset_timeout, name=key, exclude=self._exclude,
                listeners=[self._changes],
            )
            self._breakers[key] = breaker
            self._changes.note(key, pybreaker.STATE_CLOSED)
        return breaker

    @contextlib.contextmanager
    def guard(self, key: str):
        """Run a block under the key's breaker; raises CircuitOpenError without running it when open.

        Works around awaits inside the block: pybreaker treats the block as a generator call and
        records success or failure when it ends.
        """
        with self.get(key).calling():
            yield

    def state(self, key: str) -> BreakerState:
        """Current state of a key's breaker (closed if never used)."""
        breaker = self._breakers.get(key)
        if breaker is None:
            return BreakerState(key=key, state="closed", failures=0, opened_at=None)
        opened = breaker._state_storage.opened_at  # noqa: SLF001 - pybreaker exposes no getter
        return BreakerState(
            key=key, state=str(breaker.current_state), failures=breaker.fail_counter,
            opened_at=opened.timestamp() if opened and breaker.current_state != "closed" else None,
        )

    def states(self, prefix: str = "") -> list[BreakerState]:
        """States of every breaker in use (whose key starts with prefix)."""
        return [self.state(key) for key in sorted(self._breakers) if key.startswith(prefix)]

    def changed_states(self) -> list[tuple[str, str]]:
        """(key, state) of the breakers created or changed since the last call, each once, latest state.

        The metrics sync runs every second in every worker: reading all of them would cost it a
        state per provider of every tenant, most of them closed since they were created.
        """
        return [(key, state) for key, state in sorted(self._changes.take().items()) if key in self._breakers]

    def forget(self, key: str) -> None:
        """Drop a key's breaker (its provider was deleted)."""
        self._breakers.pop(key, None)
