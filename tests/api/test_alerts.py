"""Alerts on the management API: channels, rules, evaluation against real traffic, e-mail and signed webhooks."""

import openai
import pytest

from gateway_app.services.alerts.webhooks import SIGNATURE_HEADER, verify
from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour
from tests.support.receivers import Receiver, SmtpSink

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.stop()


@pytest.fixture
def hook():
    receiver = Receiver(())
    yield receiver
    receiver.stop()


@pytest.fixture
def allowed_upstreams(upstream_server, hook) -> list[str]:
    return [f"127.0.0.1:{upstream_server.port}", f"127.0.0.1:{hook.server.server_port}"]


@pytest.fixture
def settings(settings, smtp):
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "none",
                                       "smtp_from": "alerts@gatehouse.test"})


async def _chat(sdk, n: int, fail: bool, upstream) -> None:
    if fail:
        upstream.script(*[Behaviour(status=500)] * n)
    for _ in range(n):
        if fail:
            with pytest.raises(openai.APIStatusError):
                await sdk.chat.completions.create(model="gpt-test", messages=HELLO)
        else:
            await sdk.chat.completions.create(model="gpt-test", messages=HELLO)


async def test_an_error_rate_rule_fires_by_mail_and_webhook_then_resolves(admin, platform, upstream, smtp, hook):
    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"max_retries": 0}})
    mail = (await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "ops mail", "type": "email", "to": ["ops@acme.io"]})).json()
    webhook = (await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "pager", "type": "webhook", "url": hook.url})).json()
    secret = webhook["secret"]
    assert secret and webhook["has_secret"]
    listed = (await admin.call("GET", "/alerts/channels", tenant="acme", expect=200)).json()
    assert all(c["secret"] is None for c in listed), "the secret is shown once"
    rule = (await admin.call("POST", "/alerts/rules", tenant="acme", expect=201, json={
        "name": "error rate above 5 %", "metric": "error_rate", "threshold": 0.05, "window_minutes": 5,
        "filters": {"model": "gpt-test"}, "channel_ids": [mail["id"], webhook["id"]]})).json()
    assert rule["state"] == "ok" and rule["critical"] == 0.05

    sdk = sdk_for(platform, setup["token"])
    try:
        await _chat(sdk, 2, False, upstream)
        await _chat(sdk, 3, True, upstream)
        platform.usage_recorder.writer.flush()
        fired = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
        assert fired["evaluated"] == 1 and fired["notifications"] == 2 and fired["failed_notifications"] == 0
        (event,) = fired["events"]
        assert (event["state"], event["severity"], event["value"]) == ("firing", "critical", 0.6)

        (recipients, message), = smtp.messages
        assert recipients == ["ops@acme.io"]
        assert message["Subject"] == "[CRITICAL] error rate above 5 %: error_rate > 0.05 (acme)"
        assert "Value:     0.6" in message.get_body(("plain",)).get_content()
        assert "<strong>0.6</strong>" in message.get_body(("html",)).get_content()
        headers, body = hook.received[-1]
        assert verify(secret, headers[SIGNATURE_HEADER], body), "signed with the channel's secret"
        assert b'"type":"alert.firing"' in body and b'"value":0.6' in body

        again = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
        assert again["events"] == [] and again["notifications"] == 0, "still firing: nothing new to say"

        await _chat(sdk, 60, False, upstream)  # 3 failures in 65 requests: 4.6 %
        platform.usage_recorder.writer.flush()
        resolved = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
        assert [e["state"] for e in resolved["events"]] == ["resolved"] and resolved["notifications"] == 2
        assert smtp.messages[-1][1]["Subject"] == "[RESOLVED] error rate above 5 % (acme)"
        assert b'"type":"alert.resolved"' in hook.received[-1][1]

        # Flapping within the cooldown: the event is kept, nobody is paged again.
        await _chat(sdk, 10, True, upstream)
        platform.usage_recorder.writer.flush()
        flapped = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
        assert [e["state"] for e in flapped["events"]] == ["firing"] and flapped["notifications"] == 0
        assert len(smtp.messages) == 2
    finally:
        await sdk.close()

    history = (await admin.call("GET", "/alerts/events", tenant="acme", expect=200)).json()
    assert [e["state"] for e in history] == ["firing", "resolved", "firing"]
    acked = (await admin.call("POST", f"/alerts/events/{history[0]['id']}/acknowledge", tenant="acme",
                              expect=200)).json()
    assert acked["acknowledged_by"] == "root@example.com" and acked["acknowledged_at"]
    state = (await admin.call("GET", f"/alerts/rules/{rule['id']}", tenant="acme", expect=200)).json()
    assert state["state"] == "critical" and state["last_value"] > 0.05

    log = (await admin.call("GET", "/alerts/deliveries", tenant="acme", expect=200,
                            params={"event_id": history[1]["id"]})).json()
    assert sorted((d["channel_type"], d["ok"]) for d in log) == [("email", True), ("webhook", True)]
    assert len((await admin.call("GET", "/alerts/deliveries", tenant="acme", expect=200)).json()) == 4
    series = (await admin.call("GET", f"/alerts/events/{history[0]['id']}/series", tenant="acme",
                               expect=200)).json()
    assert (series["metric"], series["critical"]) == ("error_rate", 0.05)
    values = [p["value"] for p in series["points"]]
    assert len(values) == 7, "six 5-minute windows before the event, the event's, none after yet"
    assert values[0] is None, "no requests half an hour before"
    assert values[-1] == history[0]["value"], "at the event: the value it fired with"
    await admin.call("GET", "/alerts/events/alev_missing/series", tenant="acme", expect=404)


async def test_a_template_override_is_previewed_with_sample_values_and_a_broken_one_is_a_400(admin):
    await admin.create_tenant("acme")
    shown = (await admin.call("POST", "/alerts/preview", tenant="acme", expect=200, json={
        "event_type": "firing", "subject": "{{ rule }} is {{ severity | upper }}",
        "body": "Value {{ value }} <b>"})).json()
    assert shown["subject"] == "error rate above 5 % is CRITICAL"
    assert shown["text"] == "Value 0.12 <b>"
    assert "Value 0.12 &lt;b&gt;" in shown["html"], "the override's text is escaped in the HTML part"
    built_in = (await admin.call("POST", "/alerts/preview", tenant="acme", expect=200, json={})).json()
    assert built_in["subject"].startswith("[CRITICAL] error rate above 5 %")
    broken = await admin.call("POST", "/alerts/preview", tenant="acme", expect=400, json={"subject": "{{ rule"})
    assert "subject is not a valid template" in broken.json()["detail"]


async def test_channels_and_rules_are_validated_and_tested(admin, platform, upstream, smtp, hook):
    await configure_gateway(admin, upstream.url)
    bad = await admin.call("POST", "/alerts/channels", tenant="acme", json={"name": "x", "type": "email", "to": []})
    assert bad.status_code == 422
    private = await admin.call("POST", "/alerts/channels", tenant="acme", json={
        "name": "inside", "type": "webhook", "url": "http://127.0.0.1:9/hook"})
    assert private.status_code == 400 and "url" in private.text, "the outbound policy applies to webhooks"
    template = await admin.call("POST", "/alerts/channels", tenant="acme", json={
        "name": "m", "type": "email", "to": ["a@b.io"], "overrides": {"firing": {"subject": "{{ rule "}}})
    assert template.status_code == 400 and "overrides.firing.subject" in template.text
    unknown = await admin.call("POST", "/alerts/rules", tenant="acme", json={
        "name": "r", "metric": "requests", "threshold": 1, "channel_ids": ["ach_missing"]})
    assert unknown.status_code == 422 and "ach_missing" in unknown.text
    no_threshold = await admin.call("POST", "/alerts/rules", tenant="acme", json={"name": "r", "metric": "cost"})
    assert no_threshold.status_code == 422

    mail = (await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "ops", "type": "email", "to": ["ops@acme.io"]})).json()
    tested = (await admin.call("POST", f"/alerts/channels/{mail['id']}/test", tenant="acme", expect=200)).json()
    assert tested["ok"] and smtp.messages[-1][1]["Subject"] == "Gatehouse test notification (acme)"
    webhook = (await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "hook", "type": "webhook", "url": hook.url, "secret": "a-secret-of-16-chars"})).json()
    assert (await admin.call("POST", "/alerts/channels/hook/test", tenant="acme", expect=200)).json()["ok"]
    assert verify("a-secret-of-16-chars", hook.received[-1][0][SIGNATURE_HEADER], hook.received[-1][1])
    rule = (await admin.call("POST", "/alerts/rules", tenant="acme", expect=201, json={
        "name": "quiet", "metric": "no_traffic", "window_minutes": 10, "channel_ids": [webhook["id"]]})).json()
    await admin.call("DELETE", "/alerts/channels/hook", tenant="acme", expect=204)
    assert (await admin.call("GET", f"/alerts/rules/{rule['id']}", tenant="acme",
                             expect=200)).json()["channel_ids"] == [], "a deleted channel leaves its rules"
    quiet = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
    assert [e["severity"] for e in quiet["events"]] == ["critical"], "no request in 10 minutes fires no_traffic"
    other = await admin.call("GET", f"/alerts/rules/{rule['id']}", tenant="globex")
    assert other.status_code == 404


async def test_a_tenant_with_a_budget_gets_budget_alerts_that_fire_at_80_percent(admin, platform, upstream, smtp):
    setup = await configure_gateway(admin, upstream.url)
    sdk = sdk_for(platform, setup["token"])
    try:
        await _chat(sdk, 4, False, upstream)
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    rows = (await admin.call("GET", "/usage/requests", tenant="acme", expect=200)).json()
    spent = sum(r["cost_usd"] for r in rows)
    assert spent > 0
    await admin.call("PATCH", "/tenants/acme", json={"limits": {"monthly_budget_usd": round(spent / 0.9, 6)}},
                     expect=200)  # 90 % of the budget is spent
    result = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
    rules = {r["name"]: r for r in (await admin.call("GET", "/alerts/rules", tenant="acme", expect=200)).json()}
    assert set(rules) == {"budget 50 %", "budget 80 %", "budget 100 %"}
    assert sorted(e["rule_name"] for e in result["events"]) == ["budget 50 %", "budget 80 %"]
    assert rules["budget 80 %"]["state"] == "warning" and rules["budget 100 %"]["state"] == "ok"
    assert 89 < rules["budget 80 %"]["last_value"] < 91
    projected = (await admin.call("POST", "/alerts/rules", tenant="acme", expect=201, json={
        "name": "on pace to overspend", "metric": "budget_projected_pct", "threshold": 100})).json()
    await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)
    pace = (await admin.call("GET", f"/alerts/rules/{projected['id']}", tenant="acme", expect=200)).json()
    assert pace["last_value"] >= rules["budget 80 %"]["last_value"], "the month-end projection is at least the spend"


async def test_a_provider_whose_calls_all_fail_is_down(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"max_retries": 0}})
    await admin.call("POST", "/alerts/rules", tenant="acme", expect=201, json={
        "name": "provider down", "metric": "provider_down", "filters": {"provider": "fake"}})
    sdk = sdk_for(platform, setup["token"])
    try:
        await _chat(sdk, 1, False, upstream)
        ok = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
        assert ok["events"] == []
        await _chat(sdk, 3, True, upstream)
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    down = (await admin.call("POST", "/alerts/evaluate", tenant="acme", expect=200)).json()
    assert [(e["rule_name"], e["state"], e["value"]) for e in down["events"]] == [("provider down", "firing", 1.0)]


async def test_a_daily_report_mails_a_days_usage_to_the_channels_that_ask_for_it_once_a_day(
        admin, platform, upstream, smtp, hook, tmp_path):
    from datetime import UTC, datetime, timedelta

    from gateway_app.services.alerts.scheduler import AlertScheduler, SlotClaim

    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"max_retries": 0}})
    await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "finance", "type": "email", "to": ["finance@acme.io"], "daily_report": True})
    await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "ops", "type": "email", "to": ["ops@acme.io"]})
    refused = await admin.call("POST", "/alerts/channels", tenant="acme", json={
        "name": "hook", "type": "webhook", "url": hook.url, "daily_report": True})
    assert refused.status_code in (400, 422) and "daily usage report is an e-mail" in refused.text
    sdk = sdk_for(platform, setup["token"])
    try:
        await _chat(sdk, 3, False, upstream)
        await _chat(sdk, 1, True, upstream)
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()

    today = datetime.now(UTC).date()
    report = (await admin.call("POST", "/alerts/reports/daily", tenant="acme", expect=200,
                               json={"day": today.isoformat()})).json()
    assert (report["channels"], report["sent"], report["failed"], report["requests"]) == (1, 1, 0, 4)
    (recipients, message), = smtp.messages
    assert recipients == ["finance@acme.io"], "only the channel that asked for it"
    assert message["Subject"] == (f"Gatehouse daily usage {today} (acme): 4 requests, "
                                  f"{report['cost_usd']} USD")
    text = message.get_body(("plain",)).get_content()
    assert "Errors:            1 (25.0 %)" in text and "gpt-test: 4 requests, 1 errors" in text
    log = (await admin.call("GET", "/alerts/deliveries", tenant="acme", expect=200)).json()
    assert [d["event_id"] for d in log] == [f"report-{today}"]

    # The scheduler sends yesterday's report at the first slot past the hour, once per day.
    scheduler = AlertScheduler(platform.store, platform.alerts, SlotClaim(platform.cache, tmp_path / "claims"), 60,
                               platform.alert_reports, report_hour=0)
    slot = int(datetime.now(UTC).timestamp() // 60)
    await scheduler.run_slot(slot)
    assert scheduler.reports_sent_for == today - timedelta(days=1)
    assert len(smtp.messages) == 2 and smtp.messages[-1][1]["Subject"].startswith(
        f"Gatehouse daily usage {today - timedelta(days=1)} (acme): 0 requests")
    await scheduler.run_slot(slot + 1)
    assert len(smtp.messages) == 2, "one report a day, however many slots"


async def test_the_scheduler_reads_only_tenants_with_rules_and_sees_a_new_rule_at_the_next_slot(
        admin, platform, upstream, smtp, tmp_path):
    """With many tenants, opening every database each minute stalled requests: a tenant found without
    rules is skipped until its rules change (or it gets a budget), and a new rule still fires in time."""
    from datetime import UTC, datetime

    from gateway_app.services.alerts.scheduler import AlertScheduler, SlotClaim

    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"max_retries": 0}})
    for i in range(5):
        await admin.call("POST", "/tenants", json={"slug": f"quiet-{i}", "name": f"Quiet {i}"}, expect=201)
    scheduler = AlertScheduler(platform.store, platform.alerts, SlotClaim(platform.cache, tmp_path / "claims"), 60,
                               generation=platform.generation)
    slot = int(datetime.now(UTC).timestamp() // 60)
    await scheduler.run_slot(slot)
    first = scheduler.visited
    assert first >= 6  # acme and the five quiet tenants (and any other active tenant)
    await scheduler.run_slot(slot + 1)
    assert scheduler.visited == first, "no tenant has rules: none is read again"

    mail = (await admin.call("POST", "/alerts/channels", tenant="acme", expect=201, json={
        "name": "ops", "type": "email", "to": ["ops@acme.io"]})).json()
    rule = (await admin.call("POST", "/alerts/rules", tenant="acme", expect=201, json={
        "name": "errors", "metric": "error_rate", "threshold": 0.05, "window_minutes": 5,
        "channel_ids": [mail["id"]]})).json()
    await admin.call("PATCH", "/tenants/quiet-0", json={"limits": {"monthly_budget_usd": 100}}, expect=200)
    sdk = sdk_for(platform, setup["token"])
    try:
        await _chat(sdk, 2, True, upstream)
    finally:
        await sdk.close()
    platform.usage_recorder.writer.flush()
    await scheduler.run_slot(slot + 2)
    assert scheduler.visited == first + 2, "acme (its rules changed) and quiet-0 (a budget) only"
    fired = (await admin.call("GET", f"/alerts/rules/{rule['id']}", tenant="acme", expect=200)).json()
    assert fired["state"] == "critical"
    assert [m["Subject"] for _, m in smtp.messages] == ["[CRITICAL] errors: error_rate > 0.05 (acme)"]
    budget = {r["name"] for r in (await admin.call("GET", "/alerts/rules", tenant="quiet-0", expect=200)).json()}
    assert budget == {"budget 50 %", "budget 80 %", "budget 100 %"}
