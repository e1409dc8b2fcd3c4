"""The official openai SDK (sync and async) against the real `serve-api` process and the fake upstream:
chat, streaming as it happens, embeddings, files, and usage records surviving a SIGTERM."""

import time

import httpx
import openai
import pytest

from gateway_app.db.sqlite.store import SqliteStore
from tests.support.fake_upstream import Behaviour
from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "serve-api-pass-1"}


@pytest.fixture
def served(tmp_path, upstream):
    """serve-api with tenant acme, provider -> fake upstream, models and a token."""
    data_dir = tmp_path / "data"
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1"], data_dir, tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}"})
    process.wait_ready(timeout=60)
    token = configure_over_http(process.url, ADMIN, tenant="acme", provider={
        "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
        models=[{"name": "gpt-test", "upstream_model": "fake-chat"},
                {"name": "embed-test", "upstream_model": "fake-embed", "kind": "embedding"}])
    yield process, token, data_dir
    process.stop()


def test_sync_sdk_chat_stream_embeddings_files(served, upstream):
    process, token, _ = served
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0)
    reply = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "ping"}])
    assert reply.choices[0].message.content == "echo: ping"

    upstream.script(Behaviour(chunks=4, chunk_delay=0.25, content="alpha beta gamma delta"))
    arrivals, text = [], ""
    for chunk in client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                                stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            text += chunk.choices[0].delta.content
    assert text == "alpha beta gamma delta"
    assert arrivals[-1] - arrivals[0] >= 0.6, "chunks are relayed as they arrive, not buffered to the end"

    vectors = client.embeddings.create(model="embed-test", input=["a", "b"])
    assert len(vectors.data) == 2

    uploaded = client.files.create(file=("notes.txt", b"hello files"), purpose="assistants")
    assert client.files.content(uploaded.id).content == b"hello files"
    assert client.files.delete(uploaded.id).deleted


async def test_async_sdk_chat_and_stream(served):
    process, token, _ = served
    client = openai.AsyncOpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0)
    try:
        reply = await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hey"}])
        assert reply.choices[0].message.content == "echo: hey"
        stream = await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hey"}],
                                                      stream=True, stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert chunks[-1].usage is not None
    finally:
        await client.close()


def test_usage_records_are_written_across_shutdown(served):
    process, token, data_dir = served
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0)
    for index in range(15):
        if index % 3 == 0:
            list(client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "s"}],
                                                stream=True))
        else:
            client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "n"}])
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is the signal's.
    assert process.terminate(timeout=30) in (0, -15)
    assert "shutdown complete" in process.log_path.read_text()
    store = SqliteStore(data_dir)
    try:
        with store.tenant("acme") as uow:
            assert uow.usage.count() == 15
            assert sum(r.stream for r in uow.usage.recent(limit=100)) == 5
    finally:
        store.close()


def test_client_leaving_a_stream_stops_the_relay(served, upstream):
    process, token, data_dir = served
    upstream.script(Behaviour(chunks=20, chunk_delay=0.2, content=" ".join(f"w{i}" for i in range(20))))
    with httpx.Client(base_url=process.url, timeout=10) as http:
        with http.stream("POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                         json={"model": "gpt-test", "stream": True,
                               "messages": [{"role": "user", "content": "long"}]}) as response:
            first = next(response.iter_raw())
            assert first.startswith(b"data: ")
        # leaving the block closed the connection after the first chunk (of ~4 s of stream)
    time.sleep(1.0)
    assert process.terminate(timeout=30) in (0, -15)
    store = SqliteStore(data_dir)
    try:
        with store.tenant("acme") as uow:
            record = uow.usage.recent(limit=1)[0]
    finally:
        store.close()
    assert record.stream and record.status == 499 and record.error_type == "client_disconnected"
    assert record.completion_tokens < 10, "the relay stopped when the client left, not when the upstream finished"
