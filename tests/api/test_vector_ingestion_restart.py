"""Ingestion survives a restart: a file still being embedded when the gateway stops is ingested by
the next start, and nothing of it is searchable before it is complete."""

import asyncio
import time

import httpx

from api.app import create_api
from gateway_app.db.tenancy import open_store
from gateway_app.services.platform import start_platform, stop_platform
from tests.api.conftest import sdk_for
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.api import AdminApi, configure_gateway
from tests.support.fake_upstream import Behaviour


async def test_a_file_in_progress_at_stop_is_ingested_after_the_restart(settings, upstream):
    first = await start_platform(settings, install_signals=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(first)),
                                     base_url="http://gatehouse.test") as http:
            admin = AdminApi(http)
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            token = (await configure_gateway(admin, upstream.url))["token"]
        sdk = sdk_for(first, token)
        store = await sdk.vector_stores.create(name="restart")
        uploaded = await sdk.files.create(file=("slow.txt", b"Resumed files are indexed after a restart."),
                                          purpose="assistants")
        upstream.always(Behaviour(delay=4))  # the embedding call hangs: the gateway stops meanwhile
        added = await sdk.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)
        assert added.status == "in_progress"
        deadline = time.monotonic() + 10
        while not upstream.calls("/v1/embeddings") and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert upstream.calls("/v1/embeddings"), "ingestion never called the embedding model"
        await sdk.close()
    finally:
        await stop_platform(first)
    upstream.reset()
    stopped = open_store(settings)
    try:
        with stopped.tenant("acme") as uow:
            left = uow.vector_stores.get_file(store.id, uploaded.id)
    finally:
        stopped.close()
    # Stopped mid-ingestion: still in progress, its lease handed back so the next start takes it at once.
    assert left.status == "in_progress" and left.lease_until is None and left.chunks == 0

    second = await start_platform(settings, install_signals=False)
    try:
        sdk = sdk_for(second, token)
        state = await sdk.vector_stores.files.poll(file_id=uploaded.id, vector_store_id=store.id,
                                                   poll_interval_ms=20)
        assert state.status == "completed", state.last_error
        page = await sdk.vector_stores.search(vector_store_id=store.id, query="resumed files restart")
        assert page.data and page.data[0].file_id == uploaded.id
        await sdk.close()
    finally:
        await stop_platform(second)


async def test_a_file_abandoned_by_a_dead_process_is_taken_up_without_a_restart(settings, upstream, monkeypatch):
    """A process that died holding a file's lease (or before queueing it) leaves it in_progress: the
    running gateway's sweep ingests it once the lease has run out, and leaves leased files alone."""
    from datetime import timedelta

    from gateway_app.db.records import VectorFileRecord, utcnow
    from gateway_app.services.vector import ingestion

    monkeypatch.setattr(ingestion, "SWEEP_SECONDS", 0.1)
    platform = await start_platform(settings, install_signals=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)),
                                     base_url="http://gatehouse.test") as http:
            admin = AdminApi(http)
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            token = (await configure_gateway(admin, upstream.url))["token"]
        sdk = sdk_for(platform, token)
        store = await sdk.vector_stores.create(name="sweep")
        texts = {"expired": b"A lease that ran out is taken over.", "lost": b"A file nobody queued is found.",
                 "held": b"A file another process is indexing right now."}
        uploads = {k: await sdk.files.create(file=(f"{k}.txt", v), purpose="assistants") for k, v in texts.items()}
        while not platform.ingestion.sweeps:  # the pass at start is over: only a later sweep finds these rows
            await asyncio.sleep(0.02)
        now = utcnow()
        rows = {"expired": {"lease_until": now - timedelta(minutes=1)},
                "lost": {"created_at": now - timedelta(hours=1)},
                "held": {"lease_until": now + timedelta(minutes=10), "created_at": now - timedelta(hours=1)}}
        with platform.store.tenant("acme") as uow:  # rows as a dead (or busy) process left them
            for key, fields in rows.items():
                uow.vector_stores.add_file(VectorFileRecord(store_id=store.id, file_id=uploads[key].id, **fields))
            uow.commit()
        for key in ("expired", "lost"):
            state = await asyncio.wait_for(sdk.vector_stores.files.poll(
                file_id=uploads[key].id, vector_store_id=store.id, poll_interval_ms=20), 30)
            assert state.status == "completed", (key, state.last_error)
        await asyncio.sleep(0.5)  # several sweeps
        held = await sdk.vector_stores.files.retrieve(file_id=uploads["held"].id, vector_store_id=store.id)
        assert held.status == "in_progress"
        page = await sdk.vector_stores.search(vector_store_id=store.id, query="lease ran out taken over")
        assert page.data and page.data[0].file_id == uploads["expired"].id
        assert {d.file_id for d in page.data} <= {uploads["expired"].id, uploads["lost"].id}
        await sdk.close()
    finally:
        await stop_platform(platform)


async def test_embedded_chroma_runs_in_its_own_process_started_on_first_use_and_stopped_with_the_gateway(
        settings, upstream):
    """Chroma's embedded writes hold the GIL: a serving process keeps them in an owner process of its
    own, started by the first vector call (a gateway without vector stores starts none)."""
    import os
    import signal

    platform = await start_platform(settings, install_signals=False)
    try:
        layer = platform.vector_layer
        assert not layer.started
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)),
                                     base_url="http://gatehouse.test") as http:
            admin = AdminApi(http)
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            token = (await configure_gateway(admin, upstream.url))["token"]
        assert not layer.started  # configuring the gateway touched no vectors
        sdk = sdk_for(platform, token)
        store = await sdk.vector_stores.create(name="owner")
        done = await sdk.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("owner.txt", b"The owner process holds the Chroma files."),
            poll_interval_ms=20)
        assert done.status == "completed", done.last_error
        page = await sdk.vector_stores.search(vector_store_id=store.id, query="owner process chroma")
        assert page.data and page.data[0].file_id == done.id
        pid = layer._manager._process.pid  # noqa: SLF001
        assert pid != os.getpid() and os.path.exists(f"/proc/{pid}")
        assert (settings.data_dir / "vectors" / "acme").is_dir()
        # A crashed owner is replaced at the next call, with everything written before.
        os.kill(pid, signal.SIGKILL)
        layer._manager._process.join(5)  # noqa: SLF001
        page = await sdk.vector_stores.search(vector_store_id=store.id, query="owner process chroma")
        assert page.data and page.data[0].file_id == done.id
        first, pid = pid, layer._manager._process.pid  # noqa: SLF001
        assert pid != first and os.path.exists(f"/proc/{pid}")
        await sdk.close()
    finally:
        await stop_platform(platform)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the owner process outlived the gateway"
