"""Memory end to end with a real model: SmolLM2-135M (llama.cpp's server) is the extraction model behind
`serve-api`; an agent uses the official openai SDK for chat and plain HTTP for the memory routes. The
small model may extract poorly; what must hold is that nothing crashes and no answer claims a success
that did not happen (every decision names a memory that exists, every failure is a 502 naming the model)."""

import time

import httpx
import openai
import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.llm import LlamaServer
from tests.support.servers import GatewayProcess, admin_login, configure_over_http

pytestmark = pytest.mark.llm
ADMIN = {"email": "ops@example.com", "password": "real-model-pass-1"}
CONVERSATION = [{"role": "user", "content": "Hi, my name is Bob and I live in Lisbon. I am allergic to shellfish."},
                {"role": "assistant", "content": "Nice to meet you, Bob. I will remember that."}]


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
                                                  "options": {"timeout_s": 180}},
                                        models=[{"name": "smol", "upstream_model": "smollm2"}])
            headers = {"Authorization": f"Bearer {jwt}", "X-Tenant-Id": "acme"}
            http.post("/admin/v1/providers", headers=headers, json={
                "name": "embedder", "type": "openai-compatible", "base_url": embedder.url}).raise_for_status()
            http.post("/admin/v1/models", headers=headers, json={
                "name": "embed", "provider": "embedder", "upstream_model": "fake-embed",
                "kind": "embedding"}).raise_for_status()
            http.post("/admin/v1/memory-stores", headers=headers, json={
                "name": "assistant", "embedding_model": "embed", "extraction_model": "smol"}).raise_for_status()
        yield process, token
    finally:
        if process is not None:
            process.stop()
        embedder.stop()
        llama.stop()


def _memories(http: httpx.Client, user: str) -> list[dict]:
    listed = http.get("/memory_stores/assistant/memories", params={"user_id": user, "limit": 100})
    assert listed.status_code == 200, listed.text
    return listed.json()["data"]


def _honest(http: httpx.Client, answer: httpx.Response, user: str, before: int) -> None:
    """An add either reports decisions that are true of the store, or fails as a 502 naming the model."""
    if answer.status_code == 502:
        error = answer.json()["error"]
        assert error["code"] == "extraction_failed" and "'smol'" in error["message"]
        assert len(_memories(http, user)) == before  # a failure stores nothing
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    stored = {m["id"]: m["memory"] for m in _memories(http, user)}
    for result in body["results"]:
        assert result["event"] in ("ADD", "UPDATE", "DELETE", "NONE")
        if result["event"] in ("ADD", "UPDATE", "NONE"):
            assert stored.get(result["id"]) == result["memory"]  # what it says it kept is there
        else:
            assert result["id"] not in stored
    if not body["results"]:
        assert body["facts"] == [] and "nothing worth remembering" in body["message"]


def test_an_agent_adds_searches_and_chats_with_memory_on_a_real_model(stack):
    process, token = stack
    with httpx.Client(base_url=process.url + "/v1", timeout=300,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        _honest(http, http.post("/memory_stores/assistant/memories",
                                json={"user_id": "bob", "messages": CONVERSATION}), "bob", 0)
        before = len(_memories(http, "bob"))
        _honest(http, http.post("/memory_stores/assistant/memories",
                                json={"user_id": "bob", "text": "I also have a cat called Miso."}), "bob", before)

        kept = http.post("/memory_stores/assistant/memories",
                         json={"user_id": "bob", "text": "Bob is allergic to shellfish", "infer": False})
        assert kept.status_code == 200 and kept.json()["results"][0]["event"] in ("ADD", "NONE")
        found = http.post("/memory_stores/assistant/memories/search",
                          json={"user_id": "bob", "query": "allergic to shellfish"}).json()["results"]
        assert "Bob is allergic to shellfish" in [m["memory"] for m in found]

        client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=300)
        answer = client.chat.completions.create(
            model="smol", messages=[{"role": "user", "content": "What am I allergic to?"}], max_tokens=24,
            temperature=0, extra_body={"memory": {"store": "assistant", "user_id": "bob", "write": True}})
        used = answer.model_extra["memory"]
        assert used["store"] == "assistant" and used["ids"]
        assert set(used["ids"]) <= {m["id"] for m in _memories(http, "bob")}
        assert answer.choices[0].message.content.strip()

        job = http.post("/memory_stores/assistant/memories",
                        json={"user_id": "bob", "text": "My sister Ann lives in Porto.", "async": True})
        assert job.status_code == 202, job.text
        for _ in range(600):  # the job ends, completed with true decisions or failed with the reason
            polled = http.get(f"/memory_stores/assistant/add_jobs/{job.json()['id']}").json()
            if polled["status"] != "in_progress":
                break
            time.sleep(0.5)
        assert polled["status"] in ("completed", "failed")
        if polled["status"] == "failed":
            assert polled["error"]["code"] == "extraction_failed" and "'smol'" in polled["error"]["message"]
        else:
            stored = {m["id"] for m in _memories(http, "bob")}
            assert all(r["id"] in stored for r in polled["results"] if r["event"] != "DELETE")

        forgotten = http.delete("/memory_stores/assistant/memories", params={"user_id": "bob"})
        assert forgotten.status_code == 200 and _memories(http, "bob") == []
