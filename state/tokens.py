"""API tokens page: create (secret shown once), list, revoke."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.tokens import TokenCreate, TokenOut
from state.base import failure, in_thread, parse_form, platform
from state.session import SessionState


def _when(value: datetime | None, empty: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else empty


@dataclasses.dataclass
class TokenRow:
    """One row of the tokens table."""

    id: str = ""
    name: str = ""
    prefix: str = ""
    project: str = ""
    models: str = ""
    features: str = ""
    status: str = ""
    expires: str = ""
    last_used: str = ""
    created: str = ""


class TokensState(SessionState):
    """State of /tokens."""

    rows: list[TokenRow] = []
    projects: list[str] = []
    models: list[str] = []
    features: list[str] = []  # licensed to the tenant: what a token may be limited to
    loading: bool = False
    error: str = ""
    create_open: bool = False
    creating: bool = False
    form_errors: dict[str, str] = {}
    selected_models: list[str] = []
    selected_features: list[str] = []
    new_secret: str = ""
    revoke_id: str = ""
    revoke_name: str = ""

    @rx.var
    def project_choices(self) -> list[str]:
        """Projects to pick from, with a 'no project' choice first."""
        return ["(none)", *self.projects]

    @rx.event
    async def load(self):
        """Tokens, projects and models of the active tenant."""
        self.error = ""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            tokens: list[TokenOut] = await self.tenant_call(services.tokens.list)
            projects = await self.tenant_call(services.projects.list)
            models = await self.tenant_call(services.models.list)
            tenant = await in_thread(services.tenants.get, await in_thread(self.principal), self.active_tenant)
            self.features = sorted(tenant.features)
            names = {p.id: p.name for p in projects}
            self.projects = [p.name for p in projects]
            self.models = [m.name for m in models]
            self.rows = [TokenRow(id=t.id, name=t.name, prefix=t.prefix, project=names.get(t.project_id or "", "-"),
                                  models=", ".join(t.scopes.models) or "all",
                                  features=", ".join(t.scopes.features) or "all", status=t.status,
                                  expires=_when(t.expires_at, "never"), last_used=_when(t.last_used_at),
                                  created=_when(t.created_at)) for t in tokens]
        except GatehouseError as exc:
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    def open_create(self, value: bool = True):
        """Open or close the create dialog."""
        self.create_open = value
        self.form_errors = {}
        self.selected_models = []
        self.selected_features = []

    @rx.event
    def toggle_feature(self, name: str, checked: bool):
        """Limit the new token to a licensed feature (or stop limiting it)."""
        chosen = [f for f in self.selected_features if f != name]
        self.selected_features = [*chosen, name] if checked else chosen

    @rx.event
    def toggle_model(self, name: str, checked: bool):
        """Allow or disallow a model for the new token."""
        chosen = [m for m in self.selected_models if m != name]
        self.selected_models = [*chosen, name] if checked else chosen

    @rx.event
    async def create(self, form: dict):
        """Create the token and show its secret once."""
        data: dict = {"name": form.get("name", ""), "scopes": {"models": list(self.selected_models),
                                                               "features": list(self.selected_features)}}
        if form.get("project") and form["project"] != "(none)":
            data["project"] = form["project"]
        if form.get("expires_at"):
            data["expires_at"] = f"{form['expires_at']}T23:59:59Z"
        limits = {k: form[k] for k in ("rpm", "tpm", "monthly_budget_usd") if form.get(k)}
        if limits:
            data["limits"] = limits
        payload, self.form_errors = parse_form(TokenCreate, data)
        if payload is None:
            self.form_errors = {k.replace("limits.", ""): v for k, v in self.form_errors.items()}
            return
        self.creating = True
        yield
        try:
            created = await self.tenant_call(platform().tokens.create, payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.creating = False
            return
        self.creating = False
        self.create_open = False
        self.new_secret = created.token
        yield rx.toast.success(f"Token {created.name} created")
        yield TokensState.load

    @rx.event
    def dismiss_secret(self):
        """Forget the secret: it cannot be shown again."""
        self.new_secret = ""

    @rx.event
    def ask_revoke(self, token_id: str, name: str):
        """Ask for confirmation before revoking."""
        self.revoke_id, self.revoke_name = token_id, name

    @rx.event
    def cancel_revoke(self):
        """Close the confirmation."""
        self.revoke_id = ""

    @rx.event
    async def revoke(self):
        """Revoke the token: it stops working on its next request."""
        token_id, self.revoke_id = self.revoke_id, ""
        try:
            await self.tenant_call(platform().tokens.revoke, token_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success("Token revoked")
        yield TokensState.load

