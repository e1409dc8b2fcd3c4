"""Provider options.headers are credentials: encrypted at rest, masked in every answer, sent upstream in clear."""

import logging

import orjson
import pytest

from gateway_app.core.crypto import SecretBox
from tests.api.conftest import sdk_for
from tests.support.stored import stored_blobs
from tests.support.api import configure_gateway

HEADER_SECRET = "hdr-secret-value-7f3a9c"


async def test_headers_are_encrypted_masked_and_still_sent_upstream(admin, platform, upstream, data_dir, caplog):
    caplog.set_level(logging.DEBUG)
    setup = await configure_gateway(admin, upstream.url, provider_fields={
        "options": {"headers": {"X-Upstream-Key": HEADER_SECRET, "OpenAI-Organization": "org-visible-1234"}}})
    shown = setup["provider"]["options"]["headers"]
    assert shown["X-Upstream-Key"] == "hdr-...3a9c"
    responses = [await admin.call("GET", "/providers", tenant="acme", expect=200),
                 await admin.call("GET", "/providers/fake", tenant="acme", expect=200)]
    # Changing another option (as the console does) keeps the headers.
    responses.append(await admin.call("PATCH", "/providers/fake", tenant="acme",
                                      json={"options": {"timeout_s": 30}}, expect=200))
    # Sending the masked values back (a round trip from GET) keeps the stored values too.
    responses.append(await admin.call("PATCH", "/providers/fake", tenant="acme",
                                      json={"options": {"timeout_s": 20, "headers": shown}}, expect=200))
    sdk = sdk_for(platform, setup["token"])
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    await sdk.close()
    sent = upstream.calls("/chat/completions")[-1].headers
    assert sent["X-Upstream-Key"] == HEADER_SECRET and sent["OpenAI-Organization"] == "org-visible-1234"
    for response in responses:
        assert HEADER_SECRET not in response.text
    assert responses[-1].json()["options"]["headers"] == shown
    assert HEADER_SECRET not in "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    platform.usage_recorder.writer.flush()
    blobs = list(stored_blobs(platform, data_dir))
    assert blobs, "the store was looked at"
    for name, blob in blobs:
        assert HEADER_SECRET.encode() not in blob, name
    with platform.store.tenant("acme") as uow:
        record = uow.providers.get_by_name("fake")
    assert "headers" not in record.options
    assert orjson.loads(SecretBox(platform.settings.encryption_key).decrypt(record.headers_enc))["X-Upstream-Key"] \
        == HEADER_SECRET


async def test_replacing_and_removing_headers(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, provider_fields={
        "options": {"headers": {"X-Upstream-Key": HEADER_SECRET}}})
    await admin.call("PATCH", "/providers/fake", tenant="acme",
                     json={"options": {"headers": {"X-Other": "other-secret-value-1"}}}, expect=200)
    sdk = sdk_for(platform, setup["token"])
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    sent = upstream.calls("/chat/completions")[-1].headers
    assert sent.get("X-Other") == "other-secret-value-1" and "X-Upstream-Key" not in sent
    await admin.call("PATCH", "/providers/fake", tenant="acme", json={"options": {"headers": {}}}, expect=200)
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "y"}])
    await sdk.close()
    assert "X-Other" not in upstream.calls("/chat/completions")[-1].headers


@pytest.mark.parametrize("headers, word", [({"Host": "evil"}, "Host"), ({"X-A": "a\r\nX-B: b"}, "one line"),
                                           ({"bad name": "x"}, "letters")])
async def test_unsafe_headers_are_refused_naming_them(admin, upstream, headers, word):
    await admin.create_tenant("acme")
    response = await admin.call("POST", "/providers", tenant="acme", json={
        "name": "p", "type": "openai-compatible", "base_url": upstream.url, "options": {"headers": headers}})
    assert response.status_code == 422 and word in response.text


async def test_headers_stored_in_clear_before_the_upgrade_are_encrypted_by_migrate(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url)
    with platform.store.tenant("acme") as uow:  # what a row written by the previous version looks like
        record = uow.providers.get_by_name("fake")
        uow.providers.update(record.id, {"options": {**record.options, "headers": {"X-Old": HEADER_SECRET}},
                                         "headers_enc": None, "header_hints": {}})
        uow.commit()
    shown = await admin.call("GET", "/providers/fake", tenant="acme", expect=200)
    assert HEADER_SECRET not in shown.text  # masked even before the move
    assert platform.providers.encrypt_plaintext_headers(platform.store, ["acme"]) == 1
    with platform.store.tenant("acme") as uow:
        record = uow.providers.get_by_name("fake")
    assert "headers" not in record.options and record.headers_enc
    sdk = sdk_for(platform, setup["token"])
    await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    await sdk.close()
    assert upstream.calls("/chat/completions")[-1].headers["X-Old"] == HEADER_SECRET
