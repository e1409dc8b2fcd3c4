"""Login session: JWT in the browser's local storage, checked against the services on every page."""

from __future__ import annotations

from urllib.parse import urlencode

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.principals import Principal
from state.base import in_thread, platform


class SessionState(rx.State):
    """Who is logged in, which tenant they look at, and the login form."""

    jwt: str = rx.LocalStorage("", name="gatehouse_session", sync=True)
    selected_tenant: str = rx.LocalStorage("", name="gatehouse_tenant")
    email: str = ""
    display_name: str = ""
    role: str = ""
    own_tenant: str = ""
    tenant_choices: list[str] = []
    login_message: str = ""
    login_error: str = ""
    logging_in: bool = False
    firing_alerts: int = 0  # the sidebar's badge: rules of the active tenant in warning or critical

    @rx.var
    def is_platform_admin(self) -> bool:
        """Platform admins see every tenant."""
        return self.role == "platform_admin"

    @rx.var
    def can_write(self) -> bool:
        """Members are read-only."""
        return self.role in ("platform_admin", "admin")

    @rx.var
    def active_tenant(self) -> str:
        """The tenant pages act on."""
        return self.selected_tenant if self.role == "platform_admin" else self.own_tenant

    @rx.var
    def tenant_missing(self) -> bool:
        """A platform admin who has not chosen (or created) a tenant yet."""
        return self.role == "platform_admin" and not self.selected_tenant

    @rx.var
    def nav_path(self) -> str:
        """Current path without a trailing slash, for highlighting the sidebar."""
        return self.router.url.path.rstrip("/") or "/"

    @rx.var
    def role_label(self) -> str:
        """Role as shown in the sidebar."""
        return {"platform_admin": "Platform admin", "admin": "Tenant admin", "member": "Member"}.get(self.role, "")

    def principal(self) -> Principal:
        """The logged-in principal; raises AuthenticationFailed when the session is gone."""
        return platform().auth.authenticate(self.jwt)

    async def tenant_call(self, fn, *args, **kwargs):
        """Call a tenant-scoped service method as the logged-in user, off the event loop."""
        principal = await in_thread(self.principal)
        return await in_thread(fn, principal, self.tenant_arg(), *args, **kwargs)

    def tenant_arg(self) -> str | None:
        """The tenant to pass to services (None lets them use the user's own)."""
        return self.selected_tenant or None if self.role == "platform_admin" else None

    async def _restore(self) -> Principal | None:
        if not self.jwt:
            return None
        try:
            principal = await in_thread(self.principal)
        except GatehouseError as exc:
            self.jwt = ""
            self.login_message = f"Your session ended ({exc.message}). Please log in again."
            return None
        self.email, self.display_name, self.role = principal.email, principal.name, principal.role
        self.own_tenant = principal.tenant_slug or ""
        if principal.is_platform_admin:
            page = await in_thread(platform().tenants.list, principal, limit=500)
            self.tenant_choices = [t.slug for t in page.items]
            if self.selected_tenant not in self.tenant_choices:
                self.selected_tenant = self.tenant_choices[0] if self.tenant_choices else ""
        await self._count_firing(principal)
        return principal

    async def _count_firing(self, principal: Principal) -> None:
        """The rules of the active tenant that fire now (one small read per page)."""
        if principal.is_platform_admin and not self.selected_tenant:
            self.firing_alerts = 0
            return
        try:
            rules = await in_thread(platform().alert_rules.list, principal, self.tenant_arg())
        except GatehouseError:
            rules = []
        self.firing_alerts = sum(1 for r in rules if r.enabled and r.state != "ok")

    @rx.event
    async def require_login(self):
        """on_load of every console page: to the login page when the session is gone, and back here after."""
        if await self._restore() is None:
            path = self.router.url.path.rstrip("/") or "/"
            if self.router.url.query:
                path += "?" + self.router.url.query
            return rx.redirect("/login" if path == "/" else f"/login?{urlencode({'next': path})}")

    def _next_page(self) -> str:
        """Where to go after logging in: the page asked for (only a path of this console), else Overview."""
        target = self.router.url.query_parameters.get("next", "")
        # Never another site: "//host", "/\\host" and control characters (browsers drop tabs and
        # newlines, so "/\t/host" would become "//host") are refused.
        if (not target.startswith("/") or target.startswith("//") or "\\" in target
                or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or target.startswith("/login")):
            return "/"
        return target

    @rx.event
    async def skip_login_if_signed_in(self):
        """on_load of the login page."""
        if self.jwt and await self._restore() is not None:
            return rx.redirect(self._next_page())

    @rx.event
    async def login(self, form: dict):
        """Check e-mail and password; keep the JWT in local storage."""
        self.login_error = ""
        email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
        if not email or not password:
            self.login_error = "Enter your e-mail and password."
            return
        self.logging_in = True
        yield
        try:
            result = await platform().auth.login(email, password, self.router.session.client_ip or "")
        except GatehouseError as exc:
            self.login_error = exc.message[0].upper() + exc.message[1:]
            self.logging_in = False
            return
        self.jwt = result.access_token
        self.login_message = ""
        self.logging_in = False
        yield rx.redirect(self._next_page())

    @rx.event
    async def logout(self):
        """End the session server-side (every copy of the JWT stops working), then forget it."""
        if self.jwt:
            try:
                await in_thread(platform().auth.logout, await in_thread(self.principal))
            except GatehouseError:
                pass  # already ended: nothing left to revoke
        self.jwt = ""
        self.role = ""
        self.login_message = "You have been logged out."
        return rx.redirect("/login")

    @rx.event
    def switch_tenant(self, slug: str):
        """Platform admins: look at another tenant (reloads the page's data)."""
        self.selected_tenant = slug
        return rx.redirect(self.router.url.path or "/")
