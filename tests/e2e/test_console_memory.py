"""The Memory page in a real browser: the empty state, a store created in the dialog, memories added by a client
browsed by user and by agent, a semantic search with scores, a memory's history (its update by the client and an
edit from the console, old and new text with their actors), a deletion and forgetting a user behind confirmations
(the forget button stays off until the user id is typed), the activity chart, a member's read-only view, the
store edited and deleted."""

import re

import httpx
import openai
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav

TENANT = "mnemo"  # its own tenant: the console process is shared with the other browser tests
MEMBER = ("reader@mnemo.io", "reader-pass-1")
SCREENSHOTS = "/tmp/memory-{}.png"


def _setup(base: str, upstream_url: str) -> openai.OpenAI:
    """A tenant with a chat and an embedding model, a member and a client token (admin API)."""
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    httpx.post(base + "/admin/v1/tenants", headers=headers, json={"slug": TENANT, "name": "Mnemo"}).raise_for_status()
    httpx.post(base + "/admin/v1/providers", headers=headers,
               json={"name": "fake", "type": "openai-compatible", "base_url": upstream_url}).raise_for_status()
    for model in ({"name": "chat-test", "upstream_model": "fake-chat"},
                  {"name": "embed-test", "upstream_model": "fake-embed", "kind": "embedding"}):
        httpx.post(base + "/admin/v1/models", headers=headers, json={"provider": "fake", **model}).raise_for_status()
    httpx.post(base + "/admin/v1/users", headers=headers,
               json={"email": MEMBER[0], "role": "member", "password": MEMBER[1]}).raise_for_status()
    token = httpx.post(base + "/admin/v1/api-tokens", headers=headers, json={"name": "agent"})
    token.raise_for_status()
    return openai.OpenAI(base_url=base + "/v1", api_key=token.json()["token"], max_retries=0)


def _add(sdk: openai.OpenAI, text: str, **scope) -> str:
    added = sdk.post("/memory_stores/assistant/memories", body={"text": text, "infer": False, **scope},
                     cast_to=object)
    return added["results"][0]["id"]


def _shot(page: Page, name: str) -> None:
    page.wait_for_timeout(300)  # let toasts and transitions settle
    page.screenshot(path=SCREENSHOTS.format(name), full_page=True)


def _log_out(page: Page) -> None:
    page.click("#logout-button")
    expect(page.locator("#email")).to_be_visible(timeout=15_000)


def _pick(page: Page, select: str, option: str) -> None:
    page.click(select)
    page.get_by_role("option", name=option, exact=True).click()


def test_memory_stores_from_the_console(console, page: Page, shot, upstream):
    base = console.url
    sdk = _setup(base, upstream.url)
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    _pick(page, "#tenant-switcher", TENANT)
    expect(page.locator("#tenant-switcher")).to_contain_text(TENANT, timeout=15_000)
    nav(page, "Memory")
    expect(page.get_by_text("No memory stores yet")).to_be_visible(timeout=15_000)
    _shot(page, "empty")
    shot(page, "60-memory-empty")

    # Create: the tenant's models come picked; a bad threshold is refused under its field.
    page.click("#new-memory-store")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("New memory store")
    expect(page.locator("#store-embedding-model")).to_contain_text("embed-test")
    expect(page.locator("#store-extraction-model")).to_contain_text("chat-test")
    page.fill("input[name=name]", "assistant")
    page.fill("input[name=description]", "What the support agent knows about customers")
    page.fill("input[name=similarity_threshold]", "1.5")
    page.click("#save-store")
    expect(dialog.locator(".field-error")).to_contain_text("less than or equal to 1")
    page.fill("input[name=similarity_threshold]", "0.9")
    page.click("#save-store")
    rows = page.locator(".memory-store-row")
    expect(rows).to_have_count(1, timeout=15_000)
    expect(rows.first).to_contain_text("assistant")
    expect(rows.first).to_contain_text("embed-test")
    expect(page.locator("#open-memory-store")).to_have_text("assistant")  # the new store is opened
    expect(page.locator("#memories-empty")).to_contain_text("No memories in this scope yet", timeout=15_000)

    # A client's agent writes memories; one of them it corrects.
    lisbon = _add(sdk, "Alice lives in Lisbon", user_id="alice")
    _add(sdk, "Alice prefers green tea in the morning", user_id="alice", agent_id="barista")
    _add(sdk, "Bob has a PhD in chemistry", user_id="bob")
    sdk.patch(f"/memory_stores/assistant/memories/{lisbon}", body={"text": "Alice lives in Porto"}, cast_to=object)
    page.reload()  # ?store= opens the store again
    expect(page.locator("#memory-total")).to_have_text("3 memories", timeout=15_000)
    memories = page.locator(".memory-row")
    expect(memories).to_have_count(3)
    expect(memories.first).to_contain_text("Bob has a PhD in chemistry")  # the newest first
    expect(memories.filter(has_text="Alice lives in Porto")).to_have_count(1)  # as the client corrected it
    expect(rows.first.locator(".memory-count")).to_have_text("3")
    expect(page.locator("#memory-browser .recharts-bar-rectangle").first).to_be_visible()  # today's adds
    _shot(page, "browser")
    shot(page, "61-memory-browser")

    # By user: alice's two memories; by agent: the barista's one.
    _pick(page, "#scope-value", "alice")
    expect(memories).to_have_count(2, timeout=15_000)
    expect(page.locator("#memories-table")).not_to_contain_text("Bob")
    page.get_by_role("radio", name="Agents").click()
    _pick(page, "#scope-value", "barista")
    expect(memories).to_have_count(1, timeout=15_000)
    expect(memories.first).to_contain_text("green tea")

    # Search within a user: the closest memory first, with its score.
    page.get_by_role("radio", name="Users").click()
    _pick(page, "#scope-value", "alice")
    page.fill("#memory-query", "what tea does she drink in the morning")
    page.click("#memory-search")
    expect(page.locator("#memories-table")).to_contain_text("Score", timeout=15_000)
    expect(memories.first).to_contain_text("Alice prefers green tea in the morning")
    expect(memories.first.locator(".memory-score")).to_have_text(re.compile(r"^0\.\d{3}$"))
    _shot(page, "search")
    page.click("#clear-search")
    expect(memories).to_have_count(2, timeout=15_000)

    # History: the client's update keeps the old text, struck through, with who changed it.
    memories.filter(has_text="Porto").locator(".memory-history").click()
    events = page.locator(".memory-event")
    expect(events).to_have_count(2, timeout=15_000)
    expect(events.first).to_contain_text("ADD")
    expect(events.first.locator(".event-new")).to_have_text("Alice lives in Lisbon")
    expect(events.last).to_contain_text("UPDATE")
    expect(events.last.locator(".event-old")).to_have_text("Alice lives in Lisbon")
    expect(events.last.locator(".event-new")).to_have_text("Alice lives in Porto")
    expect(events.last.locator(".event-actor")).to_contain_text("token:")
    _shot(page, "history")
    shot(page, "62-memory-history")
    page.click("#close-history")

    # An edit from the console: the new text is listed, and the history names the console user.
    memories.filter(has_text="Porto").locator(".edit-memory").click()
    page.fill("#edit-memory-text", "Alice lives in Porto, near the river")
    page.click("#save-memory")
    edited = memories.filter(has_text="Alice lives in Porto, near the river")
    expect(edited).to_have_count(1, timeout=15_000)
    edited.locator(".memory-history").click()
    expect(events).to_have_count(3, timeout=15_000)
    expect(events.last.locator(".event-actor")).to_contain_text("console:")
    page.click("#close-history")

    # Delete one memory through the confirmation.
    memories.filter(has_text="green tea").locator(".delete-memory").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Alice prefers green tea in the morning")
    page.click("#confirm-button")
    expect(memories).to_have_count(1, timeout=15_000)
    expect(page.locator("#memory-total")).to_have_text("2 memories", timeout=15_000)
    expect(rows.first.locator(".memory-count")).to_have_text("2")  # the list follows

    # Forget alice: the button is off until her id is typed; the toast says how many memories went.
    page.click("#forget-user")
    confirm = page.locator("#typed-confirm-button")
    expect(confirm).to_be_disabled()
    page.fill("#typed-confirm", "alic")
    expect(confirm).to_be_disabled()
    page.fill("#typed-confirm", "alice")
    expect(confirm).to_be_enabled()
    _shot(page, "forget")
    shot(page, "63-memory-forget")
    confirm.click()
    expect(page.get_by_text("Forgot user alice: 1 memory removed")).to_be_visible(timeout=15_000)
    expect(page.locator("#memory-total")).to_have_text("1 memory", timeout=15_000)
    expect(memories).to_have_count(1)
    expect(memories.first).to_contain_text("Bob has a PhD in chemistry")
    assert sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "alice"}},
                   cast_to=object)["data"] == []

    # Edit the store: a retention, shown in the list.
    rows.first.locator(".edit-store").click()
    expect(dialog).to_contain_text("Edit memory store")
    expect(page.locator("input[name=name]")).to_have_value("assistant")
    page.fill("input[name=retention_days]", "30")
    page.click("#save-store")
    expect(rows.first).to_contain_text("30 days", timeout=15_000)

    # A member browses and reads the history, but changes nothing.
    _log_out(page)
    login(page, base, *MEMBER)
    nav(page, "Memory")
    expect(rows).to_have_count(1, timeout=15_000)
    expect(page.locator("#new-memory-store")).to_have_count(0)
    expect(rows.first.locator(".edit-store")).to_have_count(0)
    rows.first.locator(".browse-store").click()
    expect(memories).to_have_count(1, timeout=15_000)
    expect(memories.first.locator(".memory-history")).to_be_visible()
    expect(memories.first.locator(".edit-memory")).to_have_count(0)
    expect(memories.first.locator(".delete-memory")).to_have_count(0)
    _pick(page, "#scope-value", "bob")
    expect(page.locator("#forget-user")).to_have_count(0)
    _shot(page, "member")

    # Back as the admin: delete the store behind its confirmation.
    _log_out(page)
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    _pick(page, "#tenant-switcher", TENANT)
    nav(page, "Memory")
    rows.first.locator(".delete-store").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete the memory store assistant")
    page.click("#confirm-button")
    expect(page.get_by_text("No memory stores yet")).to_be_visible(timeout=15_000)
