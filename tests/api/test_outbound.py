"""Outbound policy (SSRF): a provider cannot be turned into a proxy that reads internal addresses back.

Every server here is on 127.0.0.1, which the policy refuses by default: the test settings allow
exactly the fake upstream's and the redirector's ports (PROVIDER_ALLOWED_HOSTS), never the
metadata server's.
"""

import anyio
import httpx
import pytest

from gateway_app.db.records import utcnow
from tests.support.api import AdminApi, configure_gateway
from tests.support.hostile import SECRET, MetadataServer, Redirector

HELLO = [{"role": "user", "content": "hello"}]
BLOCKED = "the provider's address is not allowed"


@pytest.fixture(scope="module")
def metadata():
    server = MetadataServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redirector(metadata):
    server = Redirector(metadata.root).start()
    yield server
    server.stop()


@pytest.fixture
def allowed_upstreams(upstream_server, redirector, metadata):
    metadata.reset()
    redirector.requests.clear()
    return [f"127.0.0.1:{upstream_server.port}", f"127.0.0.1:{redirector.port}"]


async def repoint(platform, url: str) -> None:
    """Change the stored base_url behind the API's back: what DNS rebinding or an old row amounts to."""
    def change() -> None:
        with platform.store.tenant("acme") as uow:
            record = uow.providers.get_by_name("fake")
            uow.providers.update(record.id, {"base_url": url, "updated_at": utcnow()})
            uow.commit()

    await anyio.to_thread.run_sync(change)
    platform.generation.notify("acme")


async def exercise(client: httpx.AsyncClient, admin: AdminApi, token: str, file_id: str) -> dict:
    """Every path that calls the provider: test connection, chat, stream, embeddings, files."""
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "test": await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200),
        "chat": await client.post("/v1/chat/completions", headers=bearer, json={"model": "gpt-test",
                                                                                "messages": HELLO}),
        "stream": await client.post("/v1/chat/completions", headers=bearer,
                                    json={"model": "gpt-test", "messages": HELLO, "stream": True}),
        "embeddings": await client.post("/v1/embeddings", headers=bearer, json={"model": "embed-test", "input": "x"}),
        "upload": await client.post("/v1/files", headers=bearer, files={"file": ("a.txt", b"hello")},
                                    data={"purpose": "batch"}),
        "content": await client.get(f"/v1/files/{file_id}/content", headers=bearer),
        "delete": await client.delete(f"/v1/files/{file_id}", headers=bearer),
    }


async def upload(client: httpx.AsyncClient, token: str) -> str:
    response = await client.post("/v1/files", headers={"Authorization": f"Bearer {token}"},
                                 files={"file": ("a.txt", b"hello")}, data={"purpose": "batch"})
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["ip-literal", "resolved-name"])
async def test_private_address_is_refused_at_connect_time(admin, client, platform, upstream, metadata, host):
    setup = await configure_gateway(admin, upstream.url)
    file_id = await upload(client, setup["token"])
    await repoint(platform, f"http://{host}:{metadata.port}/v1")

    answers = await exercise(client, admin, setup["token"], file_id)

    for name, response in answers.items():
        assert SECRET not in response.text, name
    test = answers["test"].json()
    assert test["ok"] is False and test["models"] == []
    assert "loopback" in test["error"] and "PROVIDER_ALLOWED_HOSTS" in test["error"], test["error"]
    for name in ("chat", "stream", "embeddings", "upload", "content", "delete"):
        response = answers[name]
        assert response.status_code == 502, (name, response.text)
        error = response.json()["error"]
        assert BLOCKED in error["message"] and error["code"] == "upstream_error", name
        assert "loopback" not in error["message"] and str(metadata.port) not in error["message"], name
    assert metadata.requests == [], "not one connection reached the internal server"
    breaker = (await admin.call("GET", "/providers/fake", tenant="acme", expect=200)).json()["breaker"]
    assert breaker == {"state": "closed", "failures": 0, "opened_at": None}, "a refused address is not an outage"


async def test_redirects_are_not_followed(admin, client, platform, upstream, metadata, redirector):
    setup = await configure_gateway(admin, upstream.url)
    file_id = await upload(client, setup["token"])
    await repoint(platform, f"{redirector.root}/v1")

    answers = await exercise(client, admin, setup["token"], file_id)

    for name, response in answers.items():
        assert SECRET not in response.text and str(metadata.port) not in response.text, name
        assert "Moved to" not in response.text, name
    test = answers["test"].json()
    assert test["ok"] is False and "redirect (HTTP 302)" in test["error"] and "not followed" in test["error"]
    for name in ("chat", "stream", "embeddings", "upload", "content", "delete"):
        assert answers[name].status_code == 502, (name, answers[name].text)
        assert "redirect (HTTP 302)" in answers[name].json()["error"]["message"], name
    assert len(redirector.requests) >= 7
    assert metadata.requests == [], "the redirect target received nothing"


async def test_a_redirect_to_an_allowed_upstream_is_not_followed_either(admin, client, platform, upstream, metadata,
                                                                      redirector):
    setup = await configure_gateway(admin, upstream.url)
    await repoint(platform, f"{redirector.root}/v1")
    redirector.target = upstream.root  # even a redirect to an allowed upstream is not followed
    try:
        answers = await exercise(client, admin, setup["token"], "file-none")
    finally:
        redirector.target = metadata.root
    assert answers["chat"].status_code == 502 and upstream.calls("/chat/completions") == []


@pytest.mark.parametrize("base_url", ["http://169.254.169.254/", "http://127.0.0.1:9/v1", "http://localhost:8080",
                                      "http://[::1]/v1", "http://[::ffff:127.0.0.1]/v1", "http://10.0.0.8/v1",
                                      "http://2130706433/v1", "http://0.0.0.0:80"])
async def test_saving_a_denied_literal_address_is_a_422(admin, base_url):
    await admin.create_tenant("acme")
    created = await admin.call("POST", "/providers", tenant="acme",
                               json={"name": "p", "type": "openai-compatible", "base_url": base_url})
    assert created.status_code == 422, created.text
    assert created.json()["field"] == "base_url" and "not allowed" in created.json()["detail"]
    await admin.call("POST", "/providers", tenant="acme", expect=201,
                     json={"name": "p", "type": "openai-compatible", "base_url": "http://93.184.215.14/v1"})
    patched = await admin.call("PATCH", "/providers/p", tenant="acme", json={"base_url": base_url})
    assert patched.status_code == 422 and patched.json()["field"] == "base_url", patched.text


async def test_the_allow_list_names_one_port_not_the_whole_address(admin, upstream):
    await configure_gateway(admin, upstream.url)
    other_port = await admin.call("PATCH", "/providers/fake", tenant="acme",
                                  json={"base_url": f"http://127.0.0.1:{upstream.port + 1}/v1"})
    assert other_port.status_code == 422, "the allow-list names one port, not the whole address"


async def test_members_may_not_run_the_connection_test(admin, client, upstream):
    await configure_gateway(admin, upstream.url)
    await admin.create_user("acme", "viewer@acme.io", role="member")
    member = AdminApi(client)
    await member.login("viewer@acme.io", "password-123")
    response = await member.call("POST", "/providers/fake/test")
    assert response.status_code == 403 and response.json()["detail"] == "members have read-only access"
    assert upstream.calls("/models") == [], "the stored credentials were not spent"
    await member.call("GET", "/providers/fake", expect=200)
