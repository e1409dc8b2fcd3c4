"""Tenants page: list with search, create, suspend and resume (platform admins)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.tenants import TenantCreate, TenantOut, TenantUpdate
from state.base import in_thread, parse_form, platform
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

    @rx.event
    async def load(self):
        """Fetch the tenants matching the search."""
        self.loading = True
        yield
        try:
            principal = await in_thread(self.principal)
            page = await in_thread(platform().tenants.list, principal, search=self.search, limit=200)
            self.rows = [TenantRow.of(t) for t in page.items]
            self.total = page.total
        except GatehouseError as exc:
            yield rx.toast.error(exc.message)
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
            yield rx.toast.error(exc.message)
            return
        yield rx.toast.success(f"Tenant {slug} {'suspended' if status == 'suspended' else 'resumed'}")
        yield TenantsState.load
