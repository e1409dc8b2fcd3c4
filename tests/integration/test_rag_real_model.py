"""RAG end to end with a real model: SmolLM2-135M (llama.cpp's server) answers through `serve-api`,
the official openai SDK asks, embeddings come from the fake upstream (llama.cpp serves no
embedding model here)."""

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.support.fake_upstream import FakeUpstream
from tests.support.llm import LlamaServer
from tests.support.servers import GatewayProcess, admin_login, configure_over_http

pytestmark = pytest.mark.llm
ADMIN = {"email": "ops@example.com", "password": "real-model-pass-1"}
HANDBOOK = ("Holidays: every employee gets twenty seven days of paid holiday per year.\n\n"
            "Expenses: travel expenses are reimbursed within fourteen days.")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    llama = LlamaServer(tmp_path_factory.mktemp("llama") / "llama.log")
    embedder = FakeUpstream().start()
    base = tmp_path_factory.mktemp("gateway")
    process = None
    try:
        llama.wait_ready()
        process = GatewayProcess.start(
            ["serve-api", "--host", "127.0.0.1"], base / "data", base / "serve-api.log",
            extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                       "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{llama.port},127.0.0.1:{embedder.port}"})
        process.wait_ready(timeout=60)
        with httpx.Client(base_url=process.url, timeout=30) as http:
            jwt = admin_login(http, ADMIN)
            token = configure_over_http(process.url, jwt, tenant="acme", http=http,
                                        provider={"name": "llama", "type": "openai-compatible", "base_url": llama.url,
                                                  "options": {"timeout_s": 120}},
                                        models=[{"name": "smol", "upstream_model": "smollm2"}])
            headers = {"Authorization": f"Bearer {jwt}", "X-Tenant-Id": "acme"}
            http.post("/admin/v1/providers", headers=headers, json={
                "name": "embedder", "type": "openai-compatible", "base_url": embedder.url}).raise_for_status()
            http.post("/admin/v1/models", headers=headers, json={
                "name": "embed", "provider": "embedder", "upstream_model": "fake-embed",
                "kind": "embedding"}).raise_for_status()
        yield process, token, headers
    finally:
        if process is not None:
            process.stop()
        embedder.stop()
        llama.stop()


def test_a_cited_answer_from_the_sdk_through_serve_api(stack):
    process, token, headers = stack
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=120)
    store = client.vector_stores.create(name="handbook", extra_body={"embedding_model": "embed"})
    done = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("handbook.txt", HANDBOOK.encode()), poll_interval_ms=50,
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
    assert done.status == "completed", done.last_error
    created = httpx.post(process.url + "/admin/v1/rag-modules", headers=headers, timeout=30, json={
        "name": "handbook", "vector_store_ids": [store.id], "model": "smol", "top_k": 1})
    assert created.status_code == 201, created.text

    answer = client.post("/rag/handbook/query", cast_to=ChatCompletion,
                         body={"query": "How many days of paid holiday per year?", "max_tokens": 24, "temperature": 0})
    citation = answer.model_extra["citations"][0]
    assert citation["filename"] == "handbook.txt" and "twenty seven days" in citation["text"]
    assert answer.choices[0].message.content.strip() and answer.usage.completion_tokens > 0

    grounded = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": "How fast are travel expenses reimbursed?"}],
        max_tokens=24, temperature=0, extra_body={"rag": {"module": "handbook"}})
    assert "fourteen days" in grounded.model_extra["citations"][0]["text"]
    assert grounded.choices[0].message.content.strip()

    stream = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": "Paid holiday?"}], max_tokens=16, temperature=0,
        stream=True, extra_body={"rag": {"module": "handbook"}})
    chunks = list(stream)
    assert chunks[0].model_extra["citations"] and not chunks[0].choices
    assert "".join(c.choices[0].delta.content or "" for c in chunks[1:] if c.choices).strip()
