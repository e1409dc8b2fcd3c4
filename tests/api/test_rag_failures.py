"""A RAG module whose vector store cannot be reached answers 503, never an ungrounded answer: the
Chroma server stopped under a running gateway (a server of this test's own)."""

import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.support.processes import ChromaServer


@pytest.fixture
def own_chroma(tmp_path):
    server = ChromaServer.start(tmp_path / "chroma")
    yield server
    server.stop()


@pytest.fixture
def settings(settings, own_chroma):
    """Vectors on this test's Chroma server."""
    return settings.model_copy(update={"vector_provider": "chroma-server", "chroma_url": own_chroma.url})


async def test_a_module_whose_chroma_is_down_is_a_503_and_the_model_is_not_called(sdk, admin, upstream, own_chroma):
    store = await sdk.vector_stores.create(name="handbook")
    done = await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("holidays.txt", b"Twenty seven days of paid holiday per year."),
        poll_interval_ms=20)
    assert done.status == "completed", done.last_error
    await admin.call("POST", "/rag-modules", tenant="acme", expect=201,
                     json={"name": "handbook", "vector_store_ids": [store.id], "model": "gpt-test"})
    answer = await sdk.post("/rag/handbook/query", body={"query": "paid holiday"}, cast_to=ChatCompletion)
    assert answer.model_extra["citations"]  # up: grounded

    own_chroma.stop()
    upstream.reset()
    with pytest.raises(openai.InternalServerError) as failed:
        await sdk.post("/rag/handbook/query", body={"query": "paid holiday"}, cast_to=ChatCompletion)
    assert failed.value.status_code == 503 and "cannot be searched right now" in failed.value.message
    with pytest.raises(openai.InternalServerError):
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "paid holiday"}],
                                          extra_body={"rag": {"module": "handbook"}})
    assert not upstream.calls("/v1/chat/completions")
