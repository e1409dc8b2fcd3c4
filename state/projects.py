"""Projects page: group tokens under shared limits and guardrails; create, rename, limits, delete."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.projects import ProjectCreate, ProjectUpdate
from state.base import counted, failure, parse_form, platform
from state.session import SessionState

LIMIT_FIELDS = ("rpm", "tpm", "monthly_budget_usd")


@dataclasses.dataclass
class ProjectRow:
    """One project in the table."""

    id: str = ""
    name: str = ""
    description: str = ""
    limits: str = ""
    tokens: str = ""
    token_count: int = 0
    guardrails: str = ""
    rpm: str = ""
    tpm: str = ""
    monthly_budget_usd: str = ""


def _limits_text(limits) -> str:
    parts = []
    if limits.rpm:
        parts.append(f"{limits.rpm} req/min")
    if limits.tpm:
        parts.append(f"{limits.tpm:,} tokens/min")
    if limits.monthly_budget_usd:
        parts.append(f"${limits.monthly_budget_usd:g}/month")
    return " · ".join(parts) or "no limits"


class ProjectsState(SessionState):
    """State of /projects."""

    rows: list[ProjectRow] = []
    loading: bool = False
    dialog_open: bool = False
    editing_id: str = ""
    saving: bool = False
    form_errors: dict[str, str] = {}
    form: dict[str, str] = {}
    delete_id: str = ""
    delete_name: str = ""

    @rx.event
    async def load(self):
        """Projects of the active tenant, with the tokens in each."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            projects = await self.tenant_call(services.projects.list, limit=500)
            tokens = await self.tenant_call(services.tokens.list, limit=500)
        except GatehouseError as exc:
            yield failure(exc)
            return
        finally:
            self.loading = False
        members: dict[str, list[str]] = {}
        for token in tokens:
            if token.project_id and token.status == "active":
                members.setdefault(token.project_id, []).append(token.name)
        self.rows = [ProjectRow(
            id=p.id, name=p.name, description=p.description or "", limits=_limits_text(p.limits),
            tokens=", ".join(sorted(members.get(p.id, []))) or "none", token_count=len(members.get(p.id, [])),
            guardrails=", ".join(p.guardrails) or "none", rpm=str(p.limits.rpm or ""), tpm=str(p.limits.tpm or ""),
            monthly_budget_usd=f"{p.limits.monthly_budget_usd:g}" if p.limits.monthly_budget_usd else "",
        ) for p in projects]

    @rx.event
    def open_create(self):
        """An empty form."""
        self.editing_id, self.form_errors, self.form, self.dialog_open = "", {}, {}, True

    @rx.event
    def open_edit(self, project_id: str):
        """The form filled with a project: rename it, change its limits."""
        row = next((r for r in self.rows if r.id == project_id), None)
        if row is None:
            return
        self.editing_id, self.form_errors, self.dialog_open = row.id, {}, True
        self.form = {"name": row.name, "description": row.description, "rpm": row.rpm, "tpm": row.tpm,
                     "monthly_budget_usd": row.monthly_budget_usd}

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    async def save(self, form: dict):
        """Create or update (an empty limit field removes that limit)."""
        data: dict = {"name": str(form.get("name", "")).strip(), "description": form.get("description", "")}
        data["limits"] = {k: form[k] for k in LIMIT_FIELDS if form.get(k)}
        payload, self.form_errors = parse_form(ProjectUpdate if self.editing_id else ProjectCreate, data)
        if payload is None:
            self.form_errors = {k.replace("limits.", ""): v for k, v in self.form_errors.items()}
            return
        self.saving = True
        yield
        try:
            services = platform()
            if self.editing_id:
                await self.tenant_call(services.projects.update, self.editing_id, payload)
            else:
                await self.tenant_call(services.projects.create, payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.saving = False
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success(f"Project {data['name']} saved")
        yield ProjectsState.load

    @rx.var
    def delete_blocked(self) -> bool:
        """The chosen project holds active tokens: it cannot be deleted."""
        row = next((r for r in self.rows if r.id == self.delete_id), None)
        return bool(row is not None and row.token_count)

    @rx.var
    def delete_message(self) -> str:
        """What deleting the chosen project means."""
        row = next((r for r in self.rows if r.id == self.delete_id), None)
        if row is not None and row.token_count:
            return (f"{self.delete_name} holds {counted(row.token_count, 'active token')} ({row.tokens}). Revoke "
                    "or move them first: a project with active tokens cannot be deleted.")
        return f"Delete the project {self.delete_name}? Its usage history is kept."

    @rx.event
    def ask_delete(self, project_id: str, name: str):
        """Ask for confirmation first."""
        self.delete_id, self.delete_name = project_id, name

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_id = ""

    @rx.event
    async def delete(self):
        """Delete a project no active token uses."""
        project_id, name, self.delete_id = self.delete_id, self.delete_name, ""
        try:
            await self.tenant_call(platform().projects.delete, project_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"Project {name} deleted")
        yield ProjectsState.load
