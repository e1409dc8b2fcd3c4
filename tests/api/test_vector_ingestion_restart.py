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
