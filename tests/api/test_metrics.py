"""GET /metrics: requests, latency, tokens and cost per tenant and model; breakers, cache, batch writers."""

import httpx
import openai
import pytest

from api.app import create_api
from gateway_app.services.platform import sync_metrics
from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour
from tests.support.prometheus import samples, total

HELLO = [{"role": "user", "content": "hello"}]
NO_RETRIES = {"options": {"max_retries": 0}}


async def scrape(platform, client=("127.0.0.1", 5000), headers=None) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_api(platform), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gatehouse.test") as http:
        return await http.get("/metrics", headers=headers or {})


async def read(platform) -> dict:
    response = await scrape(platform)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_requests_tokens_cost_and_latency_per_tenant_and_model(admin, platform, upstream):
    acme = await configure_gateway(admin, upstream.url, provider_fields=NO_RETRIES)
    globex = await configure_gateway(admin, upstream.url, tenant="globex", provider_fields=NO_RETRIES)
    before = await read(platform)
    one, two = sdk_for(platform, acme["token"]), sdk_for(platform, globex["token"])
    try:
        for _ in range(3):
            await one.chat.completions.create(model="gpt-test", messages=HELLO)
        async for _ in await one.chat.completions.create(model="gpt-test", messages=HELLO, stream=True,
                                                         stream_options={"include_usage": True}):
            pass
        await two.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.NotFoundError):
            await one.chat.completions.create(model="no-such-model-x1", messages=HELLO)
        upstream.script(Behaviour(status=500))
        with pytest.raises(openai.APIStatusError):
            await one.chat.completions.create(model="gpt-test", messages=HELLO)
    finally:
        await one.close()
        await two.close()
    after = await read(platform)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("gatehouse_requests_total", tenant="acme", model="gpt-test", kind="chat", outcome="ok") == 4
    assert delta("gatehouse_requests_total", tenant="acme", model="gpt-test", outcome="error") == 1
    assert delta("gatehouse_requests_total", tenant="globex", model="gpt-test", outcome="ok") == 1
    assert delta("gatehouse_http_responses_total", route="/v1/chat/completions", method="POST", code="404") == 1
    assert delta("gatehouse_http_responses_total", route="/v1/chat/completions", method="POST", code="200") == 5
    assert not any("no-such-model-x1" in str(key) for key in after), "no series is named after what a client sent"
    assert delta("gatehouse_request_duration_seconds_count", tenant="acme", model="gpt-test") == 5
    assert delta("gatehouse_time_to_first_token_seconds_count", tenant="acme", model="gpt-test") == 1
    platform.usage_recorder.writer.flush()
    rows = (await admin.call("GET", "/usage/requests", tenant="acme", params={"limit": 50}, expect=200)).json()
    ok_rows = [r for r in rows if r["status"] == 200]
    assert len(ok_rows) == 4
    assert delta("gatehouse_tokens_total", tenant="acme", type="prompt") == sum(r["prompt_tokens"] for r in ok_rows)
    assert delta("gatehouse_tokens_total", tenant="acme", type="completion") == sum(
        r["completion_tokens"] for r in ok_rows)
    assert delta("gatehouse_cost_usd_total", tenant="acme") == pytest.approx(sum(r["cost_usd"] for r in ok_rows))
    assert not any(dict(labels).get("token") for _, labels in after), "no token label unless configured"


async def test_breakers_cache_and_writers_are_exported(admin, platform, upstream):
    acme = await configure_gateway(admin, upstream.url, provider_fields=NO_RETRIES)
    sdk = sdk_for(platform, acme["token"])
    try:
        await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
        upstream.script(*[Behaviour(status=500)] * 5)
        for _ in range(5):
            with pytest.raises(openai.APIStatusError):
                await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
        with pytest.raises(openai.APIStatusError) as info:
            await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
        assert info.value.status_code == 503, "the breaker is open"
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    sync_metrics(platform)
    found = await read(platform)
    assert total(found, "gatehouse_provider_breaker_state", tenant="acme", provider=acme["provider"]["id"]) == 2
    assert total(found, "gatehouse_cache_lookups_total", cache="tokens", result="hit") >= 6
    assert total(found, "gatehouse_cache_lookups_total", cache="tokens", result="miss") >= 1
    assert total(found, "gatehouse_batch_writer_records_total", writer="usage", result="written") >= 7
    assert ("gatehouse_batch_writer_pending", frozenset({("writer", "usage")})) in found


async def test_metrics_need_the_token_or_a_loopback_client(platform):
    assert (await scrape(platform, client=("10.20.30.40", 5000))).status_code == 403
    platform.settings = platform.settings.model_copy(update={"metrics_token": "scrape-secret-123"})
    assert (await scrape(platform)).status_code == 401, "with a token set, loopback needs it too"
    assert (await scrape(platform, headers={"authorization": "Bearer wrong"})).status_code == 401
    allowed = await scrape(platform, client=("10.20.30.40", 5000), headers={"authorization": "Bearer scrape-secret-123"})
    assert allowed.status_code == 200 and "# HELP gatehouse_requests_total" in allowed.text


async def test_the_grafana_dashboard_and_alert_rules_query_only_metrics_the_gateway_exposes(platform):
    import json
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).parents[2] / "docs"
    dashboard = json.loads((docs / "grafana" / "gatehouse-dashboard.json").read_text())
    rules = yaml.safe_load((docs / "prometheus" / "gatehouse-alerts.yml").read_text())
    expressions = {"dashboard": [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]],
                   "alert rules": [rule["expr"] for group in rules["groups"] for rule in group["rules"]]}
    text = (await scrape(platform)).text
    exposed = set(re.findall(r"^# HELP (gatehouse_[a-z_]+)", text, re.M))
    for source, exprs in expressions.items():
        used = {name for expr in exprs for name in re.findall(r"gatehouse_[a-z_]+", expr)}
        missing = {n for n in used if re.sub(r"_(bucket|count|sum)$", "", n) not in exposed and n not in exposed}
        assert used and missing == set(), source


async def test_metrics_turned_off_answer_404_and_requests_still_flow(settings, upstream):
    from gateway_app.services.platform import start_platform, stop_platform
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
    from tests.support.api import AdminApi

    platform = await start_platform(settings.model_copy(update={"metrics_enabled": False}), install_signals=False)
    try:
        assert platform.metrics is None
        transport = httpx.ASGITransport(app=create_api(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://gatehouse.test") as http:
            admin = AdminApi(http)
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            setup = await configure_gateway(admin, upstream.url, provider_fields=NO_RETRIES)
            sdk = sdk_for(platform, setup["token"])
            try:
                answer = await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
            finally:
                await sdk.close()
        assert answer.choices[0].message.content
        off = await scrape(platform)
        assert off.status_code == 404 and off.json()["error"]["code"] == "metrics_disabled"
    finally:
        await stop_platform(platform)
