"""Providers and models on the management API; credentials never leave encrypted storage."""

import logging

import openai
import pytest

from gateway_app.core.crypto import SecretBox
from tests.api.conftest import sdk_for
from tests.support.stored import stored_blobs
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour

SECRET = "sk-upstream-secret-0001"


async def test_provider_key_is_encrypted_masked_and_never_returned(admin, client, upstream, platform, data_dir,
                                                                   caplog):
    caplog.set_level(logging.DEBUG)
    setup = await configure_gateway(admin, upstream.url)
    assert setup["provider"]["api_key"] == "sk-...0001"
    responses = [
        await admin.call("GET", "/providers", tenant="acme", expect=200),
        await admin.call("GET", "/providers/fake", tenant="acme", expect=200),
        await admin.call("PATCH", "/providers/fake", tenant="acme", json={"options": {"timeout_s": 30}}, expect=200),
        await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200),
        await admin.call("GET", "/models", tenant="acme", expect=200),
    ]
    sdk = sdk_for(platform, setup["token"])
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    upstream.script(Behaviour(status=500), Behaviour(status=500), Behaviour(status=500))
    with pytest.raises(openai.APIStatusError):
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    await sdk.close()
    for response in responses:
        assert SECRET not in response.text
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET not in logged
    assert upstream.calls("/chat/completions")[0].headers["Authorization"] == f"Bearer {SECRET}"
    platform.usage_recorder.writer.flush()
    blobs = list(stored_blobs(platform, data_dir))
    assert blobs, "the store was looked at"
    for name, blob in blobs:
        assert SECRET.encode() not in blob, name
    with platform.store.tenant("acme") as uow:
        stored = uow.providers.get_by_name("fake").api_key_enc
    assert SecretBox(platform.settings.encryption_key).decrypt(stored) == SECRET


async def test_provider_validation(admin):
    await admin.create_tenant("acme")
    for body, field in (({"name": "p", "type": "openai", "base_url": "http://x.io/v1"}, "api_key"),
                        ({"name": "p", "type": "grpc", "base_url": "http://x.io"}, "type"),
                        ({"name": "p", "type": "openai-compatible", "base_url": "ftp://x"}, "base_url"),
                        ({"name": "p", "type": "azure-openai", "base_url": "https://x.azure.com", "api_key": "k"},
                         "api_version"),
                        ({"name": "bad name", "type": "openai-compatible", "base_url": "http://x.io"}, "name")):
        response = await admin.call("POST", "/providers", tenant="acme", json=body)
        assert response.status_code == 422, body
        assert field in response.json()["detail"], response.json()


async def test_connection_test_reports_success_and_failure(admin, upstream):
    await configure_gateway(admin, upstream.url)
    ok = (await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200)).json()
    assert ok["ok"] and "fake-chat" in ok["models"]
    upstream.script(Behaviour(status=401))
    failed = (await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200)).json()
    assert not failed["ok"] and "401" in failed["error"]


async def test_model_crud_and_validation(admin, upstream):
    await configure_gateway(admin, upstream.url)
    assert (await admin.call("POST", "/models", tenant="acme", json={
        "name": "gpt-test", "provider": "fake", "upstream_model": "x"})).status_code == 409
    missing_fallback = await admin.call("POST", "/models", tenant="acme", json={
        "name": "m2", "provider": "fake", "upstream_model": "x", "fallbacks": ["nope"]})
    assert missing_fallback.status_code == 400 and missing_fallback.json()["field"] == "fallbacks"
    wrong_kind = await admin.call("POST", "/models", tenant="acme", json={
        "name": "m2", "provider": "fake", "upstream_model": "x", "fallbacks": ["embed-test"]})
    assert wrong_kind.status_code == 400 and "embedding" in wrong_kind.json()["detail"]
    no_provider = await admin.call("POST", "/models", tenant="acme", json={
        "name": "m3", "provider": "ghost", "upstream_model": "x"})
    assert no_provider.status_code == 404
    created = (await admin.call("POST", "/models", tenant="acme", expect=201, json={
        "name": "org/model:v1", "provider": "fake", "upstream_model": "fake-chat-2", "fallbacks": ["gpt-test"]})).json()
    assert created["provider"] == "fake" and created["fallbacks"] == ["gpt-test"]
    assert (await admin.call("GET", "/models/org/model:v1", tenant="acme", expect=200)).json()["id"] == created["id"]
    assert (await admin.call("DELETE", "/models/gpt-test", tenant="acme")).status_code == 409, "still a fallback"
    assert (await admin.call("DELETE", "/providers/fake", tenant="acme")).status_code == 409, "models use it"
    await admin.call("DELETE", "/models/org/model:v1", tenant="acme", expect=204)
    await admin.call("DELETE", "/models/gpt-test", tenant="acme", expect=204)


async def test_model_changes_reach_the_hot_path_at_once(admin, platform, upstream, gateway):
    sdk = sdk_for(platform, gateway["token"])
    try:
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        reads = platform.inference.catalog.store_reads
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert platform.inference.catalog.store_reads == reads, "steady state: no store read"
        await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"upstream_model": "fake-chat-2"},
                         expect=200)
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert upstream.calls("/chat/completions")[-1].body["model"] == "fake-chat-2"
        await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"enabled": False}, expect=200)
        with pytest.raises(openai.NotFoundError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert "does not exist" in str(info.value)
    finally:
        await sdk.close()


async def test_members_cannot_change_providers(admin, client, upstream):
    from tests.support.api import AdminApi

    await configure_gateway(admin, upstream.url)
    await admin.create_user("acme", "viewer@acme.io", role="member")
    member = AdminApi(client)
    await member.login("viewer@acme.io", "password-123")
    assert (await member.call("GET", "/providers")).status_code == 200
    assert (await member.call("PATCH", "/providers/fake", json={"enabled": False})).status_code == 403
    assert (await member.call("POST", "/models", json={"name": "x", "provider": "fake",
                                                        "upstream_model": "y"})).status_code == 403
