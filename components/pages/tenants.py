"""Tenants page (platform admins)."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    empty_state,
    form_dialog,
    form_field,
    loading_rows,
    page_header,
    status_badge,
)
from state.tenants import TenantRow, TenantsState


def _create_dialog() -> rx.Component:
    errors = TenantsState.form_errors
    return form_dialog(
        trigger=rx.button(rx.icon("plus", size=16), "New tenant", id="new-tenant-button"),
        title="New tenant",
        description="A tenant gets its own database, users and API tokens.",
        fields=[
            form_field("Slug", "slug", errors, placeholder="acme",
                       hint="Lower-case letters, digits and dashes; it names the database."),
            form_field("Name", "name", errors, placeholder="Acme Corp"),
            form_field("Plan", "plan", errors, placeholder="standard", default_value="standard"),
        ],
        errors=errors, submitting=TenantsState.creating, on_submit=TenantsState.create,
        open_=TenantsState.create_open, on_open_change=TenantsState.open_create, submit_id="create-tenant-submit",
    )


def _row(row: TenantRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.slug, weight="medium", font_family="var(--code-font-family)")),
        rx.table.cell(row.name),
        rx.table.cell(rx.badge(row.plan, variant="outline")),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(row.features),
        rx.table.cell(rx.text(row.created, color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                row.status == "active",
                rx.button("Suspend", size="1", variant="soft", color_scheme="amber",
                          on_click=TenantsState.ask(row.slug, "suspend")),
                rx.button("Resume", size="1", variant="soft", color_scheme="green",
                          on_click=TenantsState.ask(row.slug, "resume")),
            ),
        ),
        align="center",
    )


def _table() -> rx.Component:
    headers = ("Slug", "Name", "Plan", "Status", "Features", "Created", "")
    return rx.card(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.cond(TenantsState.loading & (TenantsState.rows.length() == 0),
                                  loading_rows(len(headers)), rx.foreach(TenantsState.rows, _row))),
            width="100%",
            variant="ghost",
            id="tenants-table",
        ),
        width="100%",
    )


def tenants_page() -> rx.Component:
    """List with search, create dialog, suspend/resume with confirmation."""
    return shell(
        page_header("Tenants", f"{TenantsState.total} tenant(s) on this gateway", _create_dialog()),
        rx.input(rx.input.slot(rx.icon("search", size=16)), placeholder="Search by slug or name",
                 value=TenantsState.search, on_change=TenantsState.set_search.debounce(300), width="320px"),
        rx.cond(
            ~TenantsState.loading & (TenantsState.rows.length() == 0),
            empty_state("building_2", rx.cond(TenantsState.search != "", "No match", "No tenants yet"),
                        rx.cond(TenantsState.search != "", "No tenant matches this search.",
                                "Create the first tenant to give a team its own users, tokens and data.")),
            _table(),
        ),
        confirm_dialog(
            TenantsState.confirm_slug != "",
            "Change tenant status",
            rx.cond(TenantsState.confirm_action == "suspend",
                    f"Suspend {TenantsState.confirm_slug}? Its API tokens and users stop working at once.",
                    f"Resume {TenantsState.confirm_slug}? Its API tokens and users work again."),
            rx.cond(TenantsState.confirm_action == "suspend", "Suspend", "Resume"),
            TenantsState.confirm, TenantsState.cancel,
        ),
    )
