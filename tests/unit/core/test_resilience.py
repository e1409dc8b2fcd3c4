"""Retries with back-off honouring Retry-After, and circuit breakers per key."""

import email.utils
import time

import pytest

from gateway_app.core.resilience import (
    BreakerRegistry,
    CircuitOpenError,
    RetryableError,
    RetryPolicy,
    parse_retry_after,
)


async def test_retry_then_success():
    attempts = []

    async def flaky():
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RetryableError("upstream 503", status=503)
        return "ok"

    policy = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05, jitter=0.01)
    async for attempt in policy.retrying():
        with attempt:
            result = await flaky()
    assert result == "ok"
    assert len(attempts) == 3


async def test_retry_gives_up_and_reraises_last_error():
    policy = RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01, jitter=0)
    calls = 0
    with pytest.raises(RetryableError, match="still down"):
        async for attempt in policy.retrying():
            with attempt:
                calls += 1
                raise RetryableError("still down")
    assert calls == 2


async def test_non_retryable_errors_are_not_retried():
    policy = RetryPolicy(attempts=5, initial_wait=0.01)
    calls = 0
    with pytest.raises(ValueError):
        async for attempt in policy.retrying():
            with attempt:
                calls += 1
                raise ValueError("bad request")
    assert calls == 1


async def test_retry_after_from_the_server_sets_the_wait():
    policy = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.001, jitter=0)
    stamps = []
    async for attempt in policy.retrying():
        with attempt:
            stamps.append(time.monotonic())
            if len(stamps) == 1:
                raise RetryableError("429", retry_after=0.3, status=429)
    assert stamps[1] - stamps[0] >= 0.28


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    http_date = email.utils.formatdate(now + 10, usegmt=True)
    assert 8 <= parse_retry_after(http_date, now=now) <= 11


async def test_breaker_opens_after_failures_and_short_circuits():
    registry = BreakerRegistry(fail_max=3, reset_timeout=60)
    calls = 0

    async def failing():
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    for _ in range(3):
        with pytest.raises((ConnectionError, CircuitOpenError)):
            with registry.guard("provider-a"):
                await failing()
    assert registry.state("provider-a").state == "open"
    calls_before = calls
    with pytest.raises(CircuitOpenError):
        with registry.guard("provider-a"):
            await failing()
    assert calls == calls_before, "an open breaker must not call the upstream"
    assert registry.state("provider-b").state == "closed", "breakers are per key"


async def test_breaker_half_opens_after_timeout_and_closes_on_success():
    registry = BreakerRegistry(fail_max=1, reset_timeout=0.2)
    with pytest.raises((ConnectionError, CircuitOpenError)):
        with registry.guard("p"):
            raise ConnectionError("down")
    assert registry.state("p").state == "open"
    assert registry.state("p").opened_at is not None
    time.sleep(0.25)
    with registry.guard("p"):
        pass  # the trial call succeeds
    state = registry.state("p")
    assert state.state == "closed" and state.failures == 0


def test_states_lists_every_breaker():
    registry = BreakerRegistry()
    registry.get("b")
    registry.get("a")
    assert [s.key for s in registry.states()] == ["a", "b"]
    registry.forget("a")
    assert [s.key for s in registry.states()] == ["b"]


def test_changed_states_reports_new_and_changed_breakers_once():
    registry = BreakerRegistry(fail_max=1, reset_timeout=60)
    for key in ("t1:a", "t2:b", "t3:c"):
        with registry.guard(key):
            pass
    assert registry.changed_states() == [("t1:a", "closed"), ("t2:b", "closed"), ("t3:c", "closed")]
    with registry.guard("t1:a"):
        pass
    assert registry.changed_states() == [], "a call that changes nothing is not reported again"
    with pytest.raises((ConnectionError, CircuitOpenError)):
        with registry.guard("t2:b"):
            raise ConnectionError("down")
    assert registry.changed_states() == [("t2:b", "open")]
    registry.forget("t2:b")
    registry.get("t4:d")
    assert registry.changed_states() == [("t4:d", "closed")]
    assert [s.key for s in registry.states("t1:")] == ["t1:a"]


def test_changed_states_give_the_new_state_even_when_read_as_pybreaker_notifies():
    import pybreaker

    registry = BreakerRegistry(fail_max=1, reset_timeout=60)
    seen = []

    class SyncDuringTheChange(pybreaker.CircuitBreakerListener):
        """The metrics sync running on its thread at the moment pybreaker notifies (before it stores the state)."""

        def state_change(self, cb, old_state, new_state):
            seen.extend(registry.changed_states())

    registry.get("t1:a").add_listener(SyncDuringTheChange())
    registry.changed_states()
    with pytest.raises((ConnectionError, CircuitOpenError)):
        with registry.guard("t1:a"):
            raise ConnectionError("down")
    assert seen == [("t1:a", "open")], "the gauge would have kept 'closed' until the next change"
