"""Retries, Retry-After, dropped connections, malformed answers, timeouts, breakers and fallbacks."""

import time

import openai
import pytest

from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour
from tests.support.processes import free_port

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def dead_port() -> int:
    """A loopback port nobody listens on."""
    return free_port()


@pytest.fixture
def allowed_upstreams(upstream_server, dead_port) -> list[str]:
    """The fake upstream and the dead port: both on loopback, so both must be allowed explicitly."""
    return [f"127.0.0.1:{upstream_server.port}", f"127.0.0.1:{dead_port}"]


@pytest.mark.parametrize("fault", [Behaviour(status=500), Behaviour(status=503), Behaviour(drop=True),
                                   Behaviour(malformed=True), Behaviour(status=429)],
                         ids=["500", "503", "dropped", "malformed", "429"])
async def test_retry_then_success(sdk, upstream, fault):
    upstream.script(fault)
    completion = await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    assert completion.choices[0].message.content == "echo: hello"
    assert len(upstream.calls("/chat/completions")) == 2


async def test_retry_after_is_honoured(sdk, upstream):
    upstream.script(Behaviour(status=429, retry_after="1"))
    started = time.monotonic()
    await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    assert time.monotonic() - started >= 0.95
    assert len(upstream.calls("/chat/completions")) == 2


async def test_giving_up_answers_502_and_records_the_failure(sdk, upstream, platform):
    upstream.always(Behaviour(status=500))
    with pytest.raises(openai.APIStatusError) as info:
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    assert info.value.status_code == 502 and info.value.body["code"] == "upstream_error"
    assert len(upstream.calls("/chat/completions")) == 3, "one try plus max_retries=2"
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        record = uow.usage.recent(limit=1)[0]
    assert record.status == 502 and record.error_type == "http_500"


async def test_client_errors_from_upstream_pass_through_without_retry(sdk, upstream):
    upstream.script(Behaviour(status=400))
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    assert "scripted failure 400" in info.value.body["message"]
    assert len(upstream.calls("/chat/completions")) == 1


async def test_upstream_timeout_is_504(admin, platform, upstream):
    from tests.api.conftest import sdk_for

    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"timeout_s": 0.3,
                                                                                      "max_retries": 0}})
    upstream.script(Behaviour(delay=1.5))
    client = sdk_for(platform, setup["token"])
    try:
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        assert info.value.status_code == 504 and info.value.body["code"] == "upstream_timeout"
    finally:
        await client.close()


async def test_breaker_opens_and_short_circuits_then_shows_in_the_admin_api(sdk, upstream, admin, platform):
    upstream.always(Behaviour(status=500))
    for _ in range(2):  # 3 attempts each: 6 failures >= fail_max 5
        with pytest.raises(openai.APIStatusError):
            await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    calls = len(upstream.calls("/chat/completions"))
    with pytest.raises(openai.APIStatusError) as info:
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    assert info.value.status_code == 503 and info.value.body["code"] == "upstream_unavailable"
    assert len(upstream.calls("/chat/completions")) == calls, "an open breaker does not call the upstream"
    provider = (await admin.call("GET", "/providers/fake", tenant="acme", expect=200)).json()
    assert provider["breaker"]["state"] == "open" and provider["breaker"]["opened_at"]


async def test_fallback_serves_every_request_while_the_primary_is_down(admin, platform, upstream, dead_port):
    from tests.api.conftest import sdk_for

    setup = await configure_gateway(admin, upstream.url)
    dead = f"http://127.0.0.1:{dead_port}/v1"  # nothing listens there
    await admin.call("POST", "/providers", tenant="acme", expect=201,
                     json={"name": "dead", "type": "openai-compatible", "base_url": dead,
                           "options": {"max_retries": 0, "timeout_s": 2}})
    await admin.call("POST", "/models", tenant="acme", expect=201,
                     json={"name": "primary", "provider": "dead", "upstream_model": "x", "fallbacks": ["gpt-test"]})
    client = sdk_for(platform, setup["token"])
    try:
        failures = 0
        for _ in range(12):
            try:
                response = await client.chat.completions.with_raw_response.create(model="primary", messages=HELLO)
            except openai.APIError:
                failures += 1
                continue
            assert response.headers["x-gatehouse-fallback"] == "true"
            assert response.headers["x-gatehouse-model"] == "gpt-test"
            assert response.parse().choices[0].message.content == "echo: hello"
        assert failures == 0
        dead_provider = (await admin.call("GET", "/providers/dead", tenant="acme", expect=200)).json()
        assert dead_provider["breaker"]["state"] == "open", "the dead provider's breaker opened on the way"
    finally:
        await client.close()


async def test_stream_broken_midway_ends_with_an_error_event(sdk, upstream, platform):
    upstream.script(Behaviour(chunks=6, break_after=2, content="one two three four five six"))
    stream = await sdk.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError) as info:
        async for _ in stream:
            pass
    assert "upstream stream failed" in str(info.value)
    assert len(upstream.calls("/chat/completions")) == 1, "no retry once bytes went to the client"
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        record = uow.usage.recent(limit=1)[0]
    assert record.status == 502 and record.stream


async def test_stream_retries_before_the_first_byte(sdk, upstream):
    upstream.script(Behaviour(status=503))
    stream = await sdk.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: hello"
    assert len(upstream.calls("/chat/completions")) == 2
