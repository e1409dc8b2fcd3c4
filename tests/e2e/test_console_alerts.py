"""Alerts in a real browser: a rule made in the console pages a real SMTP server and a signed webhook."""

import time

import httpx
from playwright.sync_api import Page, expect

from gateway_app.services.alerts.webhooks import SIGNATURE_HEADER, verify
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav
from tests.support.fake_upstream import Behaviour

TENANT = "alertco"
HELLO = {"model": "gpt-test", "messages": [{"role": "user", "content": "hello"}]}


def _setup(base: str, upstream_url: str) -> str:
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    httpx.post(base + "/admin/v1/tenants", headers=headers, json={"slug": TENANT, "name": "Alert Co"}).raise_for_status()
    httpx.post(base + "/admin/v1/providers", headers=headers,
               json={"name": "fake", "type": "openai-compatible", "base_url": upstream_url,
                     "options": {"max_retries": 0}}).raise_for_status()
    httpx.post(base + "/admin/v1/models", headers=headers,
               json={"name": "gpt-test", "provider": "fake", "upstream_model": "fake-chat"}).raise_for_status()
    return httpx.post(base + "/admin/v1/api-tokens", headers=headers, json={"name": "app"}).json()["token"]


def _wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"no {what} within {seconds:.0f} s")


def test_a_rule_made_in_the_console_mails_and_signs_a_webhook_when_the_upstream_fails(
        console, page: Page, shot, upstream, console_smtp, console_hook):
    base = console.url
    token = _setup(base, upstream.url)
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("#tenant-switcher")
    page.get_by_role("option", name=TENANT).click()
    expect(page.locator("#tenant-switcher")).to_contain_text(TENANT, timeout=15_000)
    nav(page, "Alerts")
    expect(page.get_by_text("No alert rules yet")).to_be_visible(timeout=15_000)
    shot(page, "40-alerts-empty")

    # An e-mail channel, tested; then its firing subject overridden, with a live preview.
    page.click("#new-channel-button")
    page.fill("#channel-name", "ops mail")
    page.fill("#channel-to", "ops@alertco.io")
    page.click("#channel-daily-report")
    page.click("#save-channel")
    expect(page.locator("#channels-table")).to_contain_text("ops@alertco.io", timeout=15_000)
    expect(page.locator(".channel-row", has_text="ops mail").get_by_role("switch")).to_be_checked()
    sent = len(console_smtp.messages)
    page.locator(".channel-row", has_text="ops mail").get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test sent on ops mail")).to_be_visible(timeout=15_000)
    assert console_smtp.messages[sent][1]["Subject"] == f"Gatehouse test notification ({TENANT})"
    page.locator(".channel-row", has_text="ops mail").get_by_role("button", name="Template").click()
    page.get_by_placeholder("built-in subject").fill("ALERT {{ rule }} is {{ severity }}")
    expect(page.locator("#template-preview")).to_contain_text("ALERT error rate above 5 % is critical",
                                                              timeout=15_000)
    shot(page, "41-alerts-template-preview")
    page.get_by_role("button", name="Save template").click()
    expect(page.locator("#channels-table")).to_contain_text("Template (custom)", timeout=15_000)

    # A webhook channel: its signing secret is shown once.
    page.click("#new-channel-button")
    page.fill("#channel-name", "pager")
    page.locator("#channel-type").get_by_role("radio", name="Webhook").click()
    page.fill("#channel-url", console_hook.url)
    page.click("#save-channel")
    secret = page.locator("#secret-value").inner_text(timeout=15_000)
    assert len(secret) >= 16
    page.click("#secret-done")

    # The rule, from its template, notifying both.
    page.click("#new-rule-button")
    expect(page.locator("#rule-name")).to_have_value("error rate above 5 % for 5 minutes")
    page.fill("#rule-name", "error rate above 5 %")
    expect(page.locator("#rule-critical")).to_have_value("5")
    page.locator("#rule-channels").get_by_text("ops mail").click()
    page.locator("#rule-channels").get_by_text("pager").click()
    shot(page, "43-alerts-new-rule")
    page.click("#save-rule")
    rule_row = page.locator(".rule-row", has_text="error rate above 5 %")
    expect(rule_row).to_contain_text("Error rate > 5 % over 5 min", timeout=15_000)
    expect(rule_row.locator(".rule-state")).to_have_text("ok")
    expect(rule_row).to_contain_text("ops mail, pager")

    # The upstream starts failing: 3 of 5 requests fail; the scheduler (every 5 s here) notices.
    client = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        httpx.post(base + "/v1/chat/completions", headers=client, json=HELLO).raise_for_status()
    upstream.script(*[Behaviour(status=500)] * 3)
    for _ in range(3):
        assert httpx.post(base + "/v1/chat/completions", headers=client, json=HELLO).status_code >= 500
    mail = _wait_for(lambda: next((m for _, m in console_smtp.messages
                                   if m["Subject"].startswith("ALERT error rate")), None), 60, "alert e-mail")
    assert mail["Subject"] == "ALERT error rate above 5 % is critical" and mail["To"] == "ops@alertco.io"
    assert "0.6" in mail.get_body(("plain",)).get_content(), "the value seen: 3 of 5 failed"
    headers, body = _wait_for(lambda: next((r for r in console_hook.received if b'"alert.firing"' in r[1]), None),
                              30, "signed webhook")
    assert verify(secret, headers[SIGNATURE_HEADER], body), "signed with the secret the console showed"
    assert f'"tenant":"{TENANT}"'.encode() in body

    # The console shows it firing: badge, callout, state, the event with its chart and deliveries.
    page.reload()
    expect(page.locator("#firing-badge")).to_have_text("1", timeout=15_000)
    expect(page.locator("#firing-callout")).to_contain_text("1 rule is firing")
    expect(rule_row.locator(".rule-state")).to_have_text("critical")
    event = page.locator(".event-row", has_text="firing").first
    expect(event).to_contain_text("60 %")
    event.get_by_role("button", name="Chart").click()
    expect(page.locator("#event-chart .recharts-surface")).to_be_visible(timeout=15_000)
    expect(page.locator("#event-chart .recharts-line-dot")).to_have_count(1)  # the event's window; none before
    expect(page.locator("#event-deliveries")).to_contain_text("ops mail")
    expect(page.locator("#event-deliveries")).to_contain_text("pager")
    shot(page, "42-alerts-firing")
    event.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".event-row", has_text="firing").first).to_contain_text(ADMIN_EMAIL, timeout=15_000)
