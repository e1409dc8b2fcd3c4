"""Fault injection on the real SQLite files: a locked tenant database loses nothing, costs other tenants
nothing, answers management writes with 503 + Retry-After, and what cannot be written survives a restart."""

import asyncio
import sqlite3

import httpx
import pytest

from api.app import create_api
from gateway_app.db.records import TraceEvent, TraceSession
from gateway_app.services.platform import start_platform, stop_platform
from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway


@pytest.fixture
def settings(settings):
    """Short SQLite waits so a held lock shows up in seconds, and a long retry window."""
    return settings.model_copy(update={"sqlite_busy_timeout_ms": 200, "batch_retry_seconds": 60.0})


class HeldLock:
    """Another process-like writer holding an exclusive transaction on a tenant's database file."""

    def __init__(self, path) -> None:
        self._connection = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)

    def __enter__(self):
        self._connection.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc) -> None:
        self._connection.execute("COMMIT")
        self._connection.close()


def _usage_count(platform, tenant: str) -> int:
    with platform.store.tenant(tenant) as uow:
        return uow.usage.count()


@pytest.mark.sqlite_only
async def test_locked_tenant_database_loses_no_usage_and_other_tenants_are_untouched(admin, platform, upstream):
    acme = await configure_gateway(admin, upstream.url, "acme")
    globex = await configure_gateway(admin, upstream.url, "globex")
    clients = {name: sdk_for(platform, info["token"]) for name, info in (("acme", acme), ("globex", globex))}
    messages = [{"role": "user", "content": "hello"}]
    for client in clients.values():  # warm the token caches: the hot path reads no database afterwards
        await client.chat.completions.create(model="gpt-test", messages=messages)
    assert platform.usage_recorder.writer.flush(timeout=5)

    per_tenant = 40
    with HeldLock(platform.store.tenant_path("acme")):
        replies = await asyncio.gather(*(clients[name].chat.completions.create(model="gpt-test", messages=messages)
                                         for name in ("acme", "globex") for _ in range(per_tenant)))
        assert len(replies) == 2 * per_tenant
        # Globex's records are written while acme's database is still locked.
        await asyncio.to_thread(platform.usage_recorder.writer.flush, 0.1)
        deadline = asyncio.get_running_loop().time() + 10
        while _usage_count(platform, "globex") < per_tenant + 1 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert _usage_count(platform, "globex") == per_tenant + 1
        # A management write on the locked tenant: 503 with Retry-After, not a 500.
        busy = await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"rpm": 100})
        assert busy.status_code == 503, busy.text
        assert int(busy.headers["retry-after"]) >= 1
        assert "busy" in busy.json()["detail"]
        await asyncio.sleep(1.0)  # several failed attempts while the lock is held
        assert platform.usage_recorder.writer.stats()["retried"] > 0
    assert await asyncio.to_thread(platform.usage_recorder.writer.flush, 15)
    assert _usage_count(platform, "acme") == per_tenant + 1  # N requests in, N records out
    stats = platform.usage_recorder.writer.stats()
    assert stats["spilled"] == 0 and stats["dropped"] == 0 and stats["pending"] == 0
    for client in clients.values():
        await client.close()


async def test_readiness_reports_the_writers(client, platform):
    body = (await client.get("/health/ready")).json()
    for name in ("usage", "traces", "guardrail-verdicts", "token-last-used"):
        assert set(body["writers"][name]) >= {"pending", "written", "retried", "spilled", "dropped"}


async def test_one_refused_trace_record_costs_no_other_session(admin, platform):
    for slug in ("acme", "globex"):
        await admin.create_tenant(slug)
    recorder = platform.trace_recorder
    for index in range(20):
        tenant = "acme" if index % 2 else "globex"
        recorder.writer.submit(tenant, TraceSession(id=f"ses-{index}", name=f"run {index}"))
        recorder.writer.submit(tenant, TraceEvent(id=f"evt-{index}", session_id=f"ses-{index}", name="step"))
    # Bypasses the API's validation on purpose: a record the database refuses (beyond SQLite's INTEGER).
    recorder.writer.submit("acme", TraceEvent(id="evt-poison", session_id="ses-1", prompt_tokens=2**70))
    assert await asyncio.to_thread(recorder.writer.flush, 10)
    for index in range(20):
        tenant = "acme" if index % 2 else "globex"
        with platform.store.tenant(tenant) as uow:
            assert uow.traces.get_session(f"ses-{index}") is not None
            assert [e.id for e in uow.traces.events(f"ses-{index}")] == [f"evt-{index}"]
    assert recorder.writer.stats()["rejected"] == 1
    assert (platform.settings.data_dir / "spill" / "rejected" / "traces.jsonl").exists()


@pytest.mark.sqlite_only
async def test_records_that_cannot_be_written_at_shutdown_are_replayed_at_the_next_start(admin, platform, upstream,
                                                                                        settings):
    info = await configure_gateway(admin, upstream.url, "acme")
    sdk = sdk_for(platform, info["token"])
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "warm"}])
    assert platform.usage_recorder.writer.flush(timeout=5)
    lock = HeldLock(platform.store.tenant_path("acme"))
    with lock:
        for _ in range(5):
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        # Shutdown's writer step runs while the database is still locked: its last attempt fails, so it spills.
        await asyncio.to_thread(platform.tasks.stop_all)
    await sdk.close()
    assert platform.usage_recorder.writer.stats()["spilled"] == 5
    restarted = await start_platform(settings, install_signals=False)
    try:
        assert await asyncio.to_thread(restarted.usage_recorder.writer.flush, 10)
        assert restarted.usage_recorder.writer.stats()["replayed"] == 5
        assert _usage_count(restarted, "acme") == 6
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(restarted)),
                                     base_url="http://gatehouse.test") as http:
            ready = (await http.get("/health/ready")).json()
        assert ready["writers"]["usage"]["replayed"] == 5
        assert not list((settings.data_dir / "spill").glob("usage.*.jsonl"))
    finally:
        await stop_platform(restarted)
