"""The RAG page in a real browser: the empty state, a module created in the dialog from a store with an uploaded
file, a question answered in the test panel with numbered citations, a cited chunk opened, the module's recent
model calls from the usage log, a second store added and a file uploaded into it from the module's panel (then
cited), an edit that makes the module fail when nothing matches (shown as an error, not a blank answer), and the
module deleted."""

import httpx
import openai
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav
from tests.support.fake_upstream import Behaviour

TENANT = "atlas"  # its own tenant: the console process is shared with the other browser tests
HOLIDAYS = "Every employee gets twenty seven days of paid holiday per year, plus public holidays."
ANSWER = "Employees get twenty seven days of paid holiday per year [1]."
EXPENSES = "Travel expenses are reimbursed within fourteen days when the receipt is uploaded."
EXPENSES_ANSWER = "Travel expenses are reimbursed within fourteen days [1]."
SCREENSHOTS = "/tmp/rag2-{}.png"


def _setup(base: str, upstream_url: str) -> openai.OpenAI:
    """A tenant with a chat and an embedding model, and a store holding one indexed text file (client API)."""
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    httpx.post(base + "/admin/v1/tenants", headers=headers, json={"slug": TENANT, "name": "Atlas"}).raise_for_status()
    httpx.post(base + "/admin/v1/providers", headers=headers,
               json={"name": "fake", "type": "openai-compatible", "base_url": upstream_url}).raise_for_status()
    for model in ({"name": "chat-test", "upstream_model": "fake-chat"},
                  {"name": "embed-test", "upstream_model": "fake-embed", "kind": "embedding"}):
        httpx.post(base + "/admin/v1/models", headers=headers, json={"provider": "fake", **model}).raise_for_status()
    token = httpx.post(base + "/admin/v1/api-tokens", headers=headers, json={"name": "setup"})
    token.raise_for_status()
    sdk = openai.OpenAI(base_url=base + "/v1", api_key=token.json()["token"], max_retries=0)
    store = sdk.vector_stores.create(name="handbook")
    done = sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("holidays.txt", HOLIDAYS.encode()),
                                                   poll_interval_ms=200)
    assert done.status == "completed", done.last_error
    return sdk


def _shot(page: Page, name: str) -> None:
    page.wait_for_timeout(300)  # let toasts and transitions settle
    page.screenshot(path=SCREENSHOTS.format(name), full_page=True)


def test_rag_modules_from_the_console(console, page: Page, shot, upstream, tmp_path):
    base = console.url
    sdk = _setup(base, upstream.url)
    # The answer streams in several pieces, and cites its source as the instructions ask.
    upstream.always(Behaviour(content=ANSWER, chunks=6, chunk_delay=0.05))
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("#tenant-switcher")
    page.get_by_role("option", name=TENANT).click()
    expect(page.locator("#tenant-switcher")).to_contain_text(TENANT, timeout=15_000)
    nav(page, "RAG")
    expect(page.get_by_text("No RAG modules yet")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("needs a vector store with files and a chat model")).to_be_visible()
    _shot(page, "empty")
    shot(page, "50-rag-empty")

    # Create: the tenant's only store comes picked; without a store the dialog refuses, naming the field.
    page.click("#new-module-button")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("New RAG module")
    page.fill("input[name=name]", "handbook-qa")
    page.fill("input[name=description]", "Questions about the staff handbook")
    store = dialog.locator(".store-choice", has_text="handbook")
    expect(store.get_by_role("checkbox")).to_be_checked()
    store.click()
    page.click("#save-module")
    expect(dialog.locator(".field-error")).to_contain_text("Pick at least one vector store")
    store.click()
    page.fill("input[name=top_k]", "3")
    expect(page.locator("#module-model")).to_contain_text("chat-test")
    _shot(page, "dialog")
    shot(page, "51-rag-dialog")
    page.click("#save-module")
    rows = page.locator(".module-row")
    expect(rows).to_have_count(1, timeout=15_000)
    expect(rows.first).to_contain_text("handbook-qa")
    expect(rows.first).to_contain_text("handbook")
    expect(rows.first).to_contain_text("chat-test")
    expect(page.locator("#test-module-name")).to_contain_text("handbook-qa")  # the new module is opened
    expect(page.locator("#recent-empty")).to_have_text("No queries yet", timeout=15_000)
    _shot(page, "list")

    # Ask: the answer streams in, with its numbered citation naming the uploaded file.
    page.fill("#rag-question", "How many days of paid holiday do employees get?")
    page.click("#rag-ask")
    expect(page.locator("#rag-answer")).to_contain_text(ANSWER, timeout=20_000)
    citations = page.locator(".citation")
    expect(citations.first).to_contain_text("[1]")
    expect(citations.first.locator(".citation-file")).to_have_text("holidays.txt")
    expect(page.locator("#rag-stats")).to_contain_text("1 source", timeout=15_000)
    expect(page.locator("#rag-error")).to_have_count(0)
    _shot(page, "answered")
    shot(page, "52-rag-answered")

    # The cited chunk: its text and its file id.
    citations.first.locator(".show-chunk").click()
    expect(page.locator("#chunk-text")).to_have_text(HOLIDAYS)
    expect(page.locator("#chunk-file-id")).to_contain_text("file-")
    _shot(page, "chunk")
    page.click("#close-chunk")
    expect(page.locator("#chunk-text")).to_have_count(0)

    # Recent calls: the question's embedding and answer, once the usage writer has written them (the panel
    # reads them again until the answer's row is there).
    recent = page.locator("#recent-calls")
    expect(recent.locator(".recent-call")).to_have_count(2, timeout=20_000)
    expect(recent.locator(".recent-call").first).to_contain_text("answer")
    expect(recent.locator(".recent-call").first).to_contain_text("chat-test")
    expect(recent.locator(".recent-call").last).to_contain_text("embedding")
    expect(recent.locator(".recent-call").last).to_contain_text("embed-test")
    expect(recent).to_contain_text("200")
    _shot(page, "recent")

    # A second (empty) store, added to the module; the module's page then asks which store an upload goes to.
    sdk.vector_stores.create(name="policies")
    page.reload()  # ?module= opens the module again, with its recent calls
    expect(page.locator("#test-module-name")).to_contain_text("handbook-qa", timeout=15_000)
    expect(recent.locator(".recent-call")).to_have_count(2, timeout=15_000)
    rows.first.locator(".edit-module").click()
    dialog.locator(".store-choice", has_text="policies").click()
    page.click("#save-module")
    expect(rows.first).to_contain_text("handbook, policies", timeout=15_000)
    page.click("#upload-store")
    page.get_by_role("option", name="policies").click()
    expect(page.locator("#upload-store")).to_contain_text("policies")
    (tmp_path / "expenses.txt").write_text(EXPENSES)
    page.locator("#rag-upload input[type=file]").set_input_files(str(tmp_path / "expenses.txt"))
    expect(page.get_by_text("expenses.txt")).to_be_visible()  # chosen, before the upload
    page.click("#rag-upload-files")
    uploaded = page.locator(".upload-row", has_text="expenses.txt")
    expect(uploaded.locator(".upload-status")).to_have_text("completed", timeout=30_000)
    _shot(page, "uploaded")

    # Only the new file answers this: it is cited first, from the store it was uploaded to.
    upstream.always(Behaviour(content=EXPENSES_ANSWER, chunks=4, chunk_delay=0.05))
    page.fill("#rag-question", "How soon are travel expenses reimbursed?")
    page.click("#rag-ask")
    expect(page.locator("#rag-answer")).to_contain_text(EXPENSES_ANSWER, timeout=20_000)
    expect(citations.first.locator(".citation-file")).to_have_text("expenses.txt")
    citations.first.locator(".show-chunk").click()
    expect(page.locator("#chunk-text")).to_have_text(EXPENSES)
    expect(page.get_by_role("dialog")).to_contain_text("policies")
    page.click("#close-chunk")
    expect(recent.locator(".recent-call")).to_have_count(4, timeout=20_000)  # refreshed after the question
    _shot(page, "answered-upload")

    # Edit: nothing passes a 0.99 threshold and the module now fails then: an error, never a blank answer.
    rows.first.locator(".edit-module").click()
    expect(dialog).to_contain_text("Edit RAG module")
    expect(page.locator("input[name=name]")).to_have_value("handbook-qa")
    page.fill("input[name=score_threshold]", "0.99")
    page.get_by_text("Fail with a no_results error").click()
    page.click("#save-module")
    expect(rows.first).to_contain_text("0.99", timeout=15_000)
    expect(rows.first).to_contain_text("error")
    page.click("#rag-ask")
    expect(page.locator("#rag-error")).to_contain_text("No results", timeout=20_000)
    expect(page.locator("#rag-error")).to_contain_text("found nothing")
    _shot(page, "no-results")

    # Delete through the confirmation.
    rows.first.locator(".delete-module").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete the RAG module handbook-qa?")
    page.click("#confirm-button")
    expect(page.get_by_text("No RAG modules yet")).to_be_visible(timeout=15_000)
