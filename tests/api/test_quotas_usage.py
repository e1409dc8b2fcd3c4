"""Quotas (rpm, tpm, budgets) and usage records with their aggregates."""

from datetime import UTC, datetime, timedelta

import openai
import pytest

from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway

HELLO = [{"role": "user", "content": "hello"}]


async def test_token_requests_per_minute(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, token_fields={"limits": {"rpm": 2}})
    client = sdk_for(platform, setup["token"])
    try:
        first = await client.chat.completions.with_raw_response.create(model="gpt-test", messages=HELLO)
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        await client.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        body = info.value.body
        assert body["code"] == "rate_limit_exceeded" and "token" in body["message"] and "2 requests" in body["message"]
        assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert int(info.value.response.headers["retry-after"]) <= 60
        assert len(upstream.calls("/chat/completions")) == 2, "refused requests never reach the upstream"
    finally:
        await client.close()


async def test_tenant_limit_applies_across_tokens(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, tenant_fields={"limits": {"rpm": 1}})
    second = await admin.create_token("acme", name="second")
    one, two = sdk_for(platform, setup["token"]), sdk_for(platform, second["token"])
    try:
        await one.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as info:
            await two.chat.completions.create(model="gpt-test", messages=HELLO)
        assert "tenant" in info.value.body["message"]
    finally:
        await one.close()
        await two.close()


async def test_tokens_per_minute_with_streams_settling_real_usage(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, token_fields={"limits": {"tpm": 40}})
    client = sdk_for(platform, setup["token"])
    try:
        # Estimate per call: 2 prompt tokens + max_tokens 10; the real usage is smaller and settles it.
        for _ in range(3):
            stream = await client.chat.completions.create(model="gpt-test", messages=HELLO, max_tokens=10,
                                                          stream=True)
            [c async for c in stream]
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO, max_tokens=30)
        assert "tokens per minute" in info.value.body["message"]
    finally:
        await client.close()


async def test_model_rpm_limit(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, models=[
        {"name": "gpt-test", "upstream_model": "fake-chat", "rpm": 1}])
    client = sdk_for(platform, setup["token"])
    try:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        assert "model" in info.value.body["message"]
    finally:
        await client.close()


async def test_budget_stops_spending(admin, platform, upstream):
    # 1000 $/1k tokens: each call costs far more than the $0.01 budget.
    setup = await configure_gateway(admin, upstream.url, token_fields={"limits": {"monthly_budget_usd": 0.01}},
                                    models=[{"name": "gpt-test", "upstream_model": "fake-chat",
                                             "input_price_per_1k": 1000, "output_price_per_1k": 1000}])
    client = sdk_for(platform, setup["token"])
    try:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        assert info.value.body["code"] == "budget_exceeded"
    finally:
        await client.close()


async def test_project_budget_is_restored_from_recorded_usage(admin, platform, upstream):
    """A budget counter that starts empty (new process, new month) reads the spend already recorded."""
    await configure_gateway(admin, upstream.url, models=[
        {"name": "gpt-test", "upstream_model": "fake-chat", "input_price_per_1k": 1000, "output_price_per_1k": 0}])
    await admin.call("POST", "/projects", tenant="acme", json={"name": "web", "limits": {"monthly_budget_usd": 1}},
                     expect=201)
    token = await admin.create_token("acme", name="web-app", project="web")
    client = sdk_for(platform, token["token"])
    try:
        await client.chat.completions.create(model="gpt-test", messages=HELLO)  # ~ $1+
        platform.usage_recorder.writer.flush()
        await platform.cache.close()  # forget every counter, as after a restart
        with pytest.raises(openai.RateLimitError) as info:
            await client.chat.completions.create(model="gpt-test", messages=HELLO)
        assert info.value.body["code"] == "budget_exceeded" and "project" in info.value.body["message"]
    finally:
        await client.close()


async def test_one_usage_record_per_request_streams_included(sdk, platform, gateway, upstream):
    for _ in range(3):
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    for _ in range(2):
        stream = await sdk.chat.completions.create(model="gpt-test", messages=HELLO, stream=True)
        [c async for c in stream]
    await sdk.embeddings.create(model="embed-test", input=["x y", "z"])
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        records = uow.usage.recent(limit=100)
    assert len(records) == 6
    chat = [r for r in records if r.kind == "chat"]
    assert sum(r.stream for r in chat) == 2
    for record in records:
        assert record.token_id == gateway["token_id"] and record.status == 200 and record.request_id
        assert record.prompt_tokens > 0 and record.latency_ms > 0
        assert record.upstream_model in ("fake-chat", "fake-embed") and record.provider_id.startswith("prv_")
    assert all(r.ttft_ms is not None for r in chat if r.stream)
    expected = (chat[0].prompt_tokens * 1.0 + chat[0].completion_tokens * 2.0) / 1000
    assert chat[0].cost_usd == pytest.approx(expected)


async def test_usage_aggregates(sdk, admin, platform, gateway):
    for _ in range(4):
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
    await sdk.embeddings.create(model="embed-test", input="a b c")
    platform.usage_recorder.writer.flush()
    by_model = (await admin.call("GET", "/usage", tenant="acme", params={"group_by": "model"}, expect=200)).json()
    rows = {r["key"]: r for r in by_model["rows"]}
    assert rows["gpt-test"]["requests"] == 4 and rows["embed-test"]["requests"] == 1
    assert rows["gpt-test"]["cost_usd"] > 0 and rows["gpt-test"]["p95_latency_ms"] is not None
    by_token = (await admin.call("GET", "/usage", tenant="acme", params={"group_by": "token"}, expect=200)).json()
    assert [r["key"] for r in by_token["rows"]] == [gateway["token_id"]]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    by_day = (await admin.call("GET", "/usage", tenant="acme", params={
        "group_by": "day", "from": (datetime.now(UTC) - timedelta(days=7)).isoformat()}, expect=200)).json()
    assert by_day["rows"][0]["key"] == today and by_day["rows"][0]["requests"] == 5
    recent = (await admin.call("GET", "/usage/requests", tenant="acme", params={"limit": 2}, expect=200)).json()
    assert len(recent) == 2 and recent[0]["model"] in ("gpt-test", "embed-test")
    bad = await admin.call("GET", "/usage", tenant="acme", params={"group_by": "color"})
    assert bad.status_code == 422
    empty = (await admin.call("GET", "/usage", tenant="acme", params={
        "from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00Z"}, expect=200)).json()
    assert empty["rows"] == []
