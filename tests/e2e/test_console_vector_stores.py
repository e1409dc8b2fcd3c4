"""The Vector stores page in a real browser: create a store, upload files (one the gateway cannot
read), watch them get indexed, search, edit attributes, remove a file, delete the store."""

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav
from tests.support.documents import pdf_bytes

TENANT = "library"


def _setup(base: str, upstream_url: str) -> None:
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    httpx.post(base + "/admin/v1/tenants", headers=headers, json={"slug": TENANT, "name": "Library"}).raise_for_status()
    httpx.post(base + "/admin/v1/providers", headers=headers,
               json={"name": "fake", "type": "openai-compatible", "base_url": upstream_url}).raise_for_status()
    httpx.post(base + "/admin/v1/models", headers=headers,
               json={"name": "embed-test", "provider": "fake", "upstream_model": "fake-embed",
                     "kind": "embedding"}).raise_for_status()


def test_vector_stores_from_the_console(console, page: Page, shot, upstream, tmp_path):
    base = console.url
    _setup(base, upstream.url)
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("#tenant-switcher")
    page.get_by_role("option", name=TENANT).click()
    expect(page.locator("#tenant-switcher")).to_contain_text(TENANT, timeout=15_000)
    nav(page, "Vector stores")
    expect(page.get_by_text("No vector stores yet")).to_be_visible(timeout=15_000)
    shot(page, "40-vector-stores-empty")

    page.click("#new-store-button")
    page.fill("input[name=name]", "handbook")
    page.click("#create-store")
    expect(page.locator("#stores-table")).to_contain_text("handbook", timeout=15_000)
    expect(page.locator("#open-store")).to_have_text("handbook")

    files = {"holidays.md": b"# Holidays\n\nEvery employee gets twenty seven days of paid holiday.",
             "expenses.pdf": pdf_bytes(["Travel expenses are reimbursed within fourteen days."]),
             "tool.exe": b"MZ binary"}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    page.locator("#vector-upload input[type=file]").set_input_files(paths)
    expect(page.get_by_text("holidays.md")).to_be_visible()  # the chosen files are listed before upload
    page.click("#upload-files")
    rows = page.locator(".file-row")
    expect(rows).to_have_count(3, timeout=20_000)
    expect(rows.filter(has_text="holidays.md")).to_contain_text("completed", timeout=20_000)
    expect(rows.filter(has_text="expenses.pdf")).to_contain_text("completed", timeout=20_000)
    failed = rows.filter(has_text="tool.exe")
    expect(failed).to_contain_text("failed", timeout=20_000)
    expect(failed.locator(".file-error")).to_contain_text(".exe files are not supported")
    expect(page.locator("#stores-table")).to_contain_text("2 completed · 1 failed", timeout=15_000)

    page.fill("#search-query", "paid holiday days")
    page.click("#search-button")
    hits = page.locator(".search-hit")
    expect(hits.first).to_contain_text("holidays.md", timeout=15_000)
    expect(hits.first).to_contain_text("twenty seven days")
    shot(page, "41-vector-store")

    rows.filter(has_text="holidays.md").locator(".edit-attributes").click()
    page.fill("#attributes-text", '{"team": "people", "year": 2026}')
    page.click("#save-attributes")
    expect(rows.filter(has_text="holidays.md")).to_contain_text("team=people", timeout=15_000)

    rows.filter(has_text="tool.exe").locator(".remove-file").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Remove tool.exe from this store?")
    page.click("#confirm-button")
    expect(rows).to_have_count(2, timeout=15_000)

    page.locator(".delete-store").first.click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete the vector store handbook")
    page.click("#confirm-button")
    expect(page.get_by_text("No vector stores yet")).to_be_visible(timeout=15_000)
