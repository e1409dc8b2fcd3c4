"""The same vector store flows on a Chroma server (VECTOR_PROVIDER=chroma-server): each gateway
tenant is its own Chroma tenant there."""

import pytest

from tests.api.test_vector_stores import (  # noqa: F401 - collected here again, on the server backend
    test_another_tenant_cannot_reach_a_store_or_its_files,
    test_filters_and_score_threshold,
    test_raw_records_upsert_query_and_delete,
    test_removing_a_file_or_the_store_removes_its_vectors,
    test_upload_and_poll_then_search_finds_the_chunk_with_the_answer,
)


@pytest.fixture
def settings(settings, chroma_server):
    """The test settings, vectors on the session's Chroma server."""
    return settings.model_copy(update={"vector_provider": "chroma-server", "chroma_url": chroma_server.url})


async def test_each_tenant_is_its_own_chroma_tenant(sdk, platform, chroma_server):
    import chromadb

    store = await sdk.vector_stores.create(name="on the server")
    await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("a.txt", b"server side words"),
                                                  poll_interval_ms=20)
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server.port, tenant="gatehouse-acme",
                                 database="main")
    assert store.id in [c.name for c in client.list_collections()]
    assert client.get_collection(store.id).count() == 1
    checks = (await platform.health.readiness()).as_dict()["checks"]
    assert checks["vectors"]["status"] == "up" and checks["vectors"]["detail"] == "chroma-server"
