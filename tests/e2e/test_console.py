"""The console in a real browser: login, tenants, users, roles, logout and session expiry."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def login(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-button")


def test_admin_logs_in_creates_a_tenant_and_a_user(console, page: Page, shot):
    base = console.url
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    shot(page, "01-login")

    login(page, base, ADMIN_EMAIL, "wrong-password")
    expect(page.locator("#login-error")).to_contain_text("Wrong e-mail or password")

    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Platform admin")).to_be_visible()
    shot(page, "02-overview-empty")

    page.get_by_role("link", name="Tenants", exact=True).click()
    expect(page.get_by_text("No tenants yet")).to_be_visible(timeout=15_000)
    page.click("#new-tenant-button")
    page.fill("input[name=slug]", "../x")
    page.fill("input[name=name]", "Acme Corp")
    page.click("#create-tenant-submit")
    expect(page.locator(".field-error")).to_contain_text("lower-case letters")
    shot(page, "03-tenant-form-error")
    page.fill("input[name=slug]", "acme")
    page.click("#create-tenant-submit")
    expect(page.locator("#tenants-table")).to_contain_text("Acme Corp", timeout=15_000)
    expect(page.get_by_text("Tenant acme created")).to_be_visible()
    shot(page, "04-tenants")

    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_text("No users yet")).to_be_visible(timeout=15_000)
    shot(page, "05-users-empty")
    page.click("#new-user-button")
    page.fill("input[name=email]", "viewer@acme.io")
    page.fill("input[name=name]", "Vera Viewer")
    page.fill("input[name=password]", "viewer-pass-1")
    page.click("#create-user-submit")
    expect(page.locator("#users-table")).to_contain_text("viewer@acme.io", timeout=15_000)
    shot(page, "06-users")

    page.get_by_role("link", name="Overview", exact=True).click()
    expect(page.get_by_role("heading", name="Acme Corp")).to_be_visible(timeout=15_000)
    shot(page, "07-overview-tenant")

    # On a 720-pixel window the navigation scrolls; Log out stays on screen without scrolling.
    expect(page.locator("#logout-button")).to_be_in_viewport(ratio=1)
    page.click("#logout-button")
    expect(page.get_by_text("You have been logged out.")).to_be_visible(timeout=15_000)


def test_member_sees_no_create_buttons(console, page: Page, shot):
    base = console.url
    login(page, base, "viewer@acme.io", "viewer-pass-1")
    expect(page.get_by_text("Member", exact=True)).to_be_visible(timeout=20_000)
    expect(page.get_by_role("link", name="Tenants", exact=True)).to_have_count(0)
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.locator("#users-table")).to_contain_text("viewer@acme.io", timeout=15_000)
    expect(page.locator("#new-user-button")).to_have_count(0)
    expect(page.get_by_role("button", name="Deactivate")).to_have_count(0)
    shot(page, "08-users-member")


def test_ended_session_returns_to_login_with_a_message(console, page: Page):
    base = console.url
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=20_000)
    page.evaluate("window.localStorage.setItem('gatehouse_session', 'expired.or.forged')")
    page.goto(base + "/users")
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fusers$"), timeout=15_000)
    expect(page.get_by_text("Your session ended")).to_be_visible()
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(re.compile(r"/users/?$"), timeout=20_000)  # back where the operator was going
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


def test_every_page_asked_for_while_logged_out_is_where_the_login_leads(console, browser):
    # A fresh browser each time: no session, then the login page, then the page asked for.
    base = console.url
    for path, heading in (("/usage", "Usage"), ("/models", "Models"), ("/traces", "Traces"),
                          ("/guardrails", "Guardrails"), ("/projects", "Projects"), ("/prompts", "Prompts"),
                          ("/tenants", "Tenants"), ("/providers", "Providers")):
        context = browser.new_context()
        page = context.new_page()
        try:
            page.goto(base + path)
            expect(page).to_have_url(re.compile(rf"/login/?\?next=%2F{path[1:]}(%2F)?$"), timeout=15_000)
            page.fill("#email", ADMIN_EMAIL)
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#login-button")
            expect(page).to_have_url(re.compile(rf"{path}/?$"), timeout=20_000)
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        finally:
            context.close()


def test_login_never_sends_the_operator_to_another_site(console, page: Page):
    base = console.url
    page.goto(base + "/login?next=//example.com/x")
    login_here = page.url
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-button")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=20_000)
    assert page.url.startswith(base) and login_here.startswith(base)


def test_a_fresh_browser_sees_no_error_on_the_login_page_nor_after_logging_in(console, page: Page):
    base = console.url
    page.goto(base + "/")  # no session yet: the Overview's data load runs next to the login check
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    page.wait_for_timeout(1500)  # a toast would have appeared by now
    toasts = page.locator("[data-sonner-toast]")
    expect(toasts).to_have_count(0)
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=20_000)
    page.wait_for_timeout(1000)
    expect(toasts).to_have_count(0)
