"""Tenants page: list with search, create, suspend and resume (platform admins)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.tenants import TenantCreate, TenantOut, TenantUpdate
from state.base import failure, in_thread, parse_form, platform
from state.session import SessionState


@dataclasses.dataclass
class TenantRow:
    """One row of the tenants table."""

    slug: str = ""
    name: str = ""
    plan: str = ""
    status: str = ""
    features: int = 0
    created: str = ""

    @classmethod
    def of(cls, tenant: TenantOut) -> TenantRow:
        """Row from a service result."""
        return cls(slug=tenant.slug, name=tenant.name, plan=tenant.plan, status=tenant.status,
                   features=len(tenant.features), created=tenant.created_at.strftime("%Y-%m-%d"))


class TenantsState(SessionState):
    """State of /tenants."""

    rows: list[TenantRow] = []
    total: int = 0
    search: str = ""
    loading: bool = False
    create_open: bool = False
    creating: bool = False
    form_errors: dict[str, str] = {}
    confirm_slug: str = ""
    confirm_action: str = ""
    edit_slug: str = ""
    edit_form: dict[str, str] = {}
    edit_features: list[str] = []
    edit_errors: dict[str, str] = {}
    saving: bool = False
    delete_slug: str = ""
    delete_typed: str = ""

    @rx.event
    async def load(self):
        """Fetch the tenants matching the search."""
        if self.role and not self.is_platform_admin:
            yield rx.redirect("/")
            return
        self.loading = True
        yield
        try:
            principal = await in_thread(self.principal)
            page = await in_thread(platform().tenants.list, principal, search=self.search, limit=200)
            self.rows = [TenantRow.of(t) for t in page.items]
            self.total = page.total
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False

    @rx.event
    async def set_search(self, value: str):
        """Search as you type."""
        self.search = value
        yield TenantsState.load

    @rx.event
    def open_create(self, value: bool = True):
        """Open or close the create dialog."""
        self.create_open = value
        self.form_errors = {}

    @rx.event
    async def create(self, form: dict):
        """Validate with the service's schema, create, refresh."""
        payload, self.form_errors = parse_form(TenantCreate, form)
        if payload is None:
            return
        self.creating = True
        yield
        try:
            principal = await in_thread(self.principal)
            created = await in_thread(platform().tenants.create, principal, payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.creating = False
            return
        self.creating = False
        self.create_open = False
        self.tenant_choices = sorted({*self.tenant_choices, created.slug})
        if not self.selected_tenant:
            self.selected_tenant = created.slug
        yield rx.toast.success(f"Tenant {created.slug} created")
        yield TenantsState.load

    @rx.event
    async def open_edit(self, slug: str):
        """The license editor for a tenant."""
        try:
            principal = await in_thread(self.principal)
            tenant = await in_thread(platform().tenants.get, principal, slug)
        except GatehouseError as exc:
            yield failure(exc)
            return
        limits = tenant.limits
        self.edit_slug, self.edit_errors = slug, {}
        self.edit_features = list(tenant.features)
        self.edit_form = {
            "name": tenant.name, "plan": tenant.plan,
            "expires": tenant.license_expires_at.strftime("%Y-%m-%d") if tenant.license_expires_at else "",
            **{k: "" if getattr(limits, k) is None else f"{getattr(limits, k):g}"
               for k in ("rpm", "tpm", "monthly_budget_usd", "max_users", "max_tokens")}}

    @rx.event
    def close_edit(self, value: bool = False):
        """Close the license editor."""
        if not value:
            self.edit_slug = ""

    @rx.event
    def toggle_feature(self, feature: str, checked: bool):
        """Include or exclude a licensed feature."""
        others = [f for f in self.edit_features if f != feature]
        self.edit_features = [*others, feature] if checked else others

    @rx.event
    async def save_license(self, form: dict):
        """Apply plan, features, limits and expiry."""
        limits = {k: form[k] for k in ("rpm", "tpm", "monthly_budget_usd", "max_users", "max_tokens") if form.get(k)}
        data = {"name": form.get("name", ""), "plan": form.get("plan", ""), "features": list(self.edit_features),
                "limits": limits, "license_expires_at": f"{form['expires']}T23:59:59Z" if form.get("expires") else None}
        payload, self.edit_errors = parse_form(TenantUpdate, data, keep_none=True)
        if payload is None:
            self.edit_errors = {k.replace("limits.", ""): v for k, v in self.edit_errors.items()}
            return
        self.saving = True
        yield
        try:
            principal = await in_thread(self.principal)
            await in_thread(platform().tenants.update, principal, self.edit_slug, payload)
        except GatehouseError as exc:
            self.edit_errors = {exc.param or "form": exc.message}
            self.saving = False
            return
        self.saving, slug, self.edit_slug = False, self.edit_slug, ""
        yield rx.toast.success(f"License of {slug} saved")
        yield TenantsState.load

    @rx.event
    def ask_delete(self, slug: str):
        """Ask for the tenant's slug before deleting it."""
        self.delete_slug, self.delete_typed = slug, ""

    @rx.event
    def set_delete_typed(self, value: str):
        """What the operator typed in the confirmation."""
        self.delete_typed = value

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_slug = ""

    @rx.event
    async def delete(self):
        """Delete the tenant and its database (only once its slug was typed)."""
        slug = self.delete_slug
        if not slug or self.delete_typed != slug:
            return
        self.delete_slug = ""
        try:
            principal = await in_thread(self.principal)
            await in_thread(platform().tenants.delete, principal, slug)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.tenant_choices = [t for t in self.tenant_choices if t != slug]
        if self.selected_tenant == slug:
            self.selected_tenant = self.tenant_choices[0] if self.tenant_choices else ""
        yield rx.toast.success(f"Tenant {slug} deleted")
        yield TenantsState.load

    @rx.event
    def ask(self, slug: str, action: str):
        """Ask for confirmation of suspend/resume."""
        self.confirm_slug, self.confirm_action = slug, action

    @rx.event
    def cancel(self):
        """Close the confirmation."""
        self.confirm_slug, self.confirm_action = "", ""

    @rx.event
    async def confirm(self):
        """Apply the confirmed suspend/resume."""
        slug, action = self.confirm_slug, self.confirm_action
        self.confirm_slug, self.confirm_action = "", ""
        status = "suspended" if action == "suspend" else "active"
        try:
            principal = await in_thread(self.principal)
            await in_thread(platform().tenants.update, principal, slug, TenantUpdate(status=status))
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"Tenant {slug} {'suspended' if status == 'suspended' else 'resumed'}")
        yield TenantsState.load
