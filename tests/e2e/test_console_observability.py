"""Prompts, guardrails and the trace viewer in a real browser."""

import json
import time

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav

TENANT = "obsco"


def _setup(base: str, upstream_url: str) -> str:
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    httpx.post(base + "/admin/v1/tenants", headers=headers, json={"slug": TENANT, "name": "Obs Co"}).raise_for_status()
    httpx.post(base + "/admin/v1/providers", headers=headers,
               json={"name": "fake", "type": "openai-compatible", "base_url": upstream_url}).raise_for_status()
    httpx.post(base + "/admin/v1/models", headers=headers,
               json={"name": "gpt-test", "provider": "fake", "upstream_model": "fake-chat"}).raise_for_status()
    return httpx.post(base + "/admin/v1/api-tokens", headers=headers, json={"name": "agent"}).json()["token"]


def _choose_tenant(page: Page) -> None:
    page.click("#tenant-switcher")
    page.get_by_role("option", name=TENANT).click()
    expect(page.locator("#tenant-switcher")).to_contain_text(TENANT, timeout=15_000)


def test_prompts_guardrails_and_traces_from_the_console(console, page: Page, shot, upstream):
    base = console.url
    token = _setup(base, upstream.url)
    client = {"Authorization": f"Bearer {token}"}
    session = httpx.post(base + "/v1/tracing/sessions", headers=client,
                         json={"name": "research agent", "user": "ann", "tags": ["prod"]}).json()["id"]
    httpx.post(base + f"/v1/tracing/sessions/{session}/events", headers=client, json={"events": [
        {"id": "plan", "name": "plan", "input": {"question": "weather in Paris?"}},
        {"id": "search", "parent_id": "plan", "type": "retrieval", "name": "web search", "output": ["meteo.fr"]},
        {"id": "call", "parent_id": "plan", "type": "tool", "name": "weather api", "status": "error"}]})
    httpx.post(base + "/v1/chat/completions", headers={**client, "x-session-id": session, "x-parent-event-id": "plan"},
               json={"model": "gpt-test", "messages": [{"role": "user", "content": "summarise"}]}).raise_for_status()
    httpx.patch(base + f"/v1/tracing/sessions/{session}", headers=client,
                json={"status": "completed"}).raise_for_status()

    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    _choose_tenant(page)

    # A prompt, a second version, the diff, the label moved, then run from the playground.
    nav(page, "Prompts")
    page.click("#new-prompt-button")
    page.fill("#prompt-name", "support-answer")
    page.fill("#prompt-system", "You are {{ persona }}.")
    page.fill("#prompt-user", "Answer {{ question }} briefly.")
    expect(page.locator("#detected-variables")).to_contain_text("question")
    page.click("#save-prompt")
    expect(page.locator("#versions-table")).to_contain_text("v1", timeout=15_000)
    page.click("#new-version")
    page.fill("#prompt-user", "Answer {{ question }} in one sentence.")
    page.fill("#prompt-message", "shorter answers")
    page.click("#save-prompt")
    expect(page.locator("#versions-table")).to_contain_text("shorter answers", timeout=15_000)
    page.click("#show-diff")
    expect(page.locator("#diff-view")).to_contain_text("one sentence", timeout=15_000)
    expect(page.locator("#diff-view")).to_contain_text("briefly")
    shot(page, "20-prompt-diff")
    page.click("#move-label")
    expect(page.locator("#versions-table")).to_contain_text("production", timeout=15_000)
    reply = httpx.post(base + "/v1/prompts/support-answer/render", headers=client,
                       json={"variables": {"persona": "a pirate", "question": "tides"}}).json()
    assert reply["version"] == 2 and reply["messages"][1]["content"] == "Answer tides in one sentence."
    variables = page.locator(".try-variable input")
    variables.nth(0).fill("a pirate")
    variables.nth(1).fill("the weather")
    page.click("#render-prompt")
    expect(page.locator(".rendered-message").last).to_contain_text("Answer the weather in one sentence.")
    shot(page, "21-prompts")
    page.click("#run-in-playground")
    expect(page.locator("#prompt-note")).to_contain_text("support-answer", timeout=15_000)
    page.click("#playground-send")
    expect(page.locator(".turn-stats")).to_be_visible(timeout=20_000)

    # A blocking policy on the model, tested live, then a blocked request in the playground.
    nav(page, "Guardrails")
    page.click("#new-policy-button")
    page.fill("#policy-name", "no-codes")
    # Built with the rule editor, no JSON: a new policy starts empty, then a PII rule (mask) and a
    # keyword rule that says what is missing until a keyword is typed.
    expect(page.locator("#no-rules")).to_be_visible()
    page.click("#add-pii")
    page.click("#add-keyword")
    expect(page.locator(".rule-card").nth(1).locator(".rule-problem")).to_be_visible()
    keyword = page.locator(".rule-card").nth(1)
    keyword.locator("textarea").fill("launch code")
    keyword.get_by_role("combobox").nth(1).click()
    page.get_by_role("option", name="block", exact=True).click()
    # A pattern RE2 cannot run is explained while it is typed, before any save.
    page.click("#add-regex")
    pattern = page.locator(".rule-card").nth(2)
    pattern.locator("input").fill("(?<=secret)\\w+")
    expect(pattern.locator(".rule-problem")).to_contain_text("look-behind is not supported", timeout=10_000)
    shot(page, "22a-rule-editor")
    pattern.get_by_role("button", name="Remove rule").click()
    expect(page.locator(".rule-card")).to_have_count(2)
    page.click("#toggle-json")
    rules = json.loads(page.locator("#policy-rules").input_value())
    assert [(r["type"], r["action"]) for r in rules] == [("pii", "mask"), ("keyword", "block")]
    assert rules[1]["keywords"] == ["launch code"]
    page.get_by_role("checkbox", name="gpt-test").click()
    page.click("#save-policy")
    expect(page.locator("#policies-list")).to_contain_text("models: gpt-test", timeout=15_000)
    page.get_by_role("button", name="Test").click()
    page.fill("#test-text", "mail jane@example.com the launch code")
    page.click("#run-test")
    expect(page.locator("#test-verdict")).to_have_text("block", timeout=15_000)
    expect(page.locator("#highlighted mark")).to_have_count(2)
    shot(page, "22-guardrails")
    nav(page, "Playground")
    page.click("#playground-model")
    page.get_by_role("option", name="gpt-test").click()
    page.fill("#playground-input", "what is the launch code?")
    page.click("#playground-send")
    expect(page.locator(".turn-assistant").last).to_contain_text("blocked by guardrail policy 'no-codes'",
                                                                 timeout=20_000)
    shot(page, "23-playground-blocked")
    # The block is counted as blocked, apart from errors, on the Overview and in Usage.
    nav(page, "Overview")
    deadline = time.monotonic() + 20  # the usage row lands within the writer's interval (~1 s)
    while time.monotonic() < deadline and page.locator("#stat-blocked").inner_text().split()[1:2] != ["1"]:
        page.wait_for_timeout(500)
        page.reload()
        page.locator("#stat-blocked").wait_for(timeout=15_000)
    expect(page.locator("#stat-blocked")).to_contain_text("1")
    expect(page.locator("#stat-error-rate")).to_contain_text("0.0%")
    shot(page, "23b-overview-blocked")
    nav(page, "Usage")
    expect(page.locator(".rt-Badge").filter(has_text="blocked")).to_have_count(1, timeout=15_000)
    nav(page, "Guardrails")
    expect(page.locator("#verdicts-table")).to_contain_text("no-codes", timeout=15_000)

    # The trace viewer: the session, its tree, an event's payloads.
    nav(page, "Traces")
    expect(page.locator("#sessions-table")).to_contain_text("research agent", timeout=15_000)
    shot(page, "24-traces")
    link = page.get_by_role("link", name="research agent")
    assert f"&tenant={TENANT}" in link.get_attribute("href")  # a shareable link names its tenant
    link.click()
    expect(page.locator("#event-tree")).to_contain_text("weather api", timeout=15_000)
    expect(page.locator("#session-totals")).to_contain_text("4 events · 1 error ·")
    expect(page.locator(".event-row")).to_have_count(4)
    # Events sent without an end, in a session that ended: no duration, not "running".
    expect(page.locator(".event-row").filter(has_text="weather api")).not_to_contain_text("running")
    expect(page.locator("#event-tree")).not_to_contain_text("running")
    page.locator(".event-row").filter(has_text="web search").click()
    expect(page.locator(".event-payloads")).to_contain_text("meteo.fr", timeout=15_000)
    shot(page, "25-trace")

    # Deleting: a policy in use is explained and kept; a prompt goes after a confirmation.
    nav(page, "Guardrails")
    page.locator(".delete-policy").first.click()
    expect(page.get_by_role("alertdialog")).to_contain_text("attached to models: gpt-test")
    shot(page, "26-delete-policy-in-use")
    expect(page.locator("#confirm-button")).to_be_disabled()  # explained, and not offered
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#policies-list")).to_contain_text("no-codes")
    nav(page, "Prompts")
    page.locator(".delete-prompt").first.click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete support-answer and all 2 versions?")
    page.click("#confirm-button")
    expect(page.get_by_text("No prompts yet")).to_be_visible(timeout=15_000)
    gone = httpx.post(base + "/v1/prompts/support-answer/render", headers=client, json={"variables": {}})
    assert gone.status_code == 404
