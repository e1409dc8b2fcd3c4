"""Lifecycle (draining, ordered teardown) and the health registry."""

import asyncio

from gateway_app.core.health import HealthRegistry
from gateway_app.core.lifecycle import Lifecycle


async def test_shutdown_waits_for_in_flight_then_runs_hooks_in_order():
    lifecycle = Lifecycle()
    order = []
    lifecycle.on_shutdown("tasks", lambda: order.append("tasks"))

    async def close_cache():
        order.append("cache")

    lifecycle.on_shutdown("cache", close_cache)
    lifecycle.on_shutdown("runtime_pool", lambda: order.append("runtime_pool"))
    lifecycle.request_started()

    async def finish_request():
        await asyncio.sleep(0.1)
        order.append("request done")
        lifecycle.request_finished()

    asyncio.create_task(finish_request())
    await lifecycle.shutdown(grace_seconds=5)
    assert order == ["request done", "tasks", "cache", "runtime_pool"]
    assert lifecycle.draining and lifecycle.stopped


async def test_a_failing_hook_does_not_stop_the_others(caplog):
    lifecycle = Lifecycle()
    ran = []

    def broken():
        raise RuntimeError("boom")

    lifecycle.on_shutdown("broken", broken)
    lifecycle.on_shutdown("after", lambda: ran.append("after"))
    await lifecycle.shutdown(grace_seconds=0)
    assert ran == ["after"]
    assert any("shutdown step failed" in r.getMessage() for r in caplog.records)


async def test_grace_period_is_bounded():
    lifecycle = Lifecycle()
    lifecycle.request_started()  # never finishes
    assert await lifecycle.wait_idle(0.05) is False
    await lifecycle.shutdown(grace_seconds=0.05)
    assert lifecycle.stopped


async def test_readiness_fails_only_for_required_checks():
    registry = HealthRegistry(timeout=0.2)

    async def up():
        return "fine"

    async def down():
        raise ConnectionError("refused")

    registry.register("database", up, required=True)
    registry.register("cache", down, required=False)
    readiness = await registry.readiness()
    body = readiness.as_dict()
    assert readiness.ready and body["status"] == "ready"
    assert body["checks"]["cache"]["status"] == "down" and "refused" in body["checks"]["cache"]["detail"]

    registry.register("database", down, required=True)
    readiness = await registry.readiness()
    assert not readiness.ready and readiness.as_dict()["status"] == "unavailable"


async def test_a_hanging_check_times_out():
    registry = HealthRegistry(timeout=0.05)

    async def hang():
        await asyncio.sleep(5)

    registry.register("slow", hang)
    readiness = await registry.readiness()
    assert not readiness.ready
    assert readiness.as_dict()["checks"]["slow"]["detail"] == "timed out"


def test_collector_pauses_are_measured_per_generation():
    import gc

    from gateway_app.core.gc_pauses import GcPauses

    pauses = GcPauses()
    pauses.install()
    try:
        gc.collect(2)
        gc.collect(0)
    finally:
        pauses.uninstall()
    stats = pauses.stats()
    assert stats["gen2"]["collections"] >= 1 and stats["gen0"]["collections"] >= 1
    assert 0 < stats["gen2"]["max_ms"] < 10_000
    gc.collect(2)
    assert pauses.stats()["gen2"]["collections"] == stats["gen2"]["collections"]  # uninstalled: not counted
