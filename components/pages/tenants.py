"""Tenants page (platform admins)."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    empty_state,
    form_dialog,
    form_error,
    form_field,
    loading_rows,
    page_header,
    status_badge,
    typed_confirm_dialog,
)
from gateway_app.services.licenses import ALL_FEATURES
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
        rx.table.cell(rx.hstack(
            rx.button(rx.icon("file_badge", size=14), "License", size="1", variant="soft",
                      on_click=TenantsState.open_edit(row.slug)),
            rx.cond(
                row.status == "active",
                rx.button("Suspend", size="1", variant="soft", color_scheme="amber",
                          on_click=TenantsState.ask(row.slug, "suspend")),
                rx.button("Resume", size="1", variant="soft", color_scheme="green",
                          on_click=TenantsState.ask(row.slug, "resume")),
            ),
            rx.icon_button(rx.icon("trash_2", size=14), size="1", variant="soft", color_scheme="red",
                           on_click=TenantsState.ask_delete(row.slug), aria_label=f"Delete {row.slug}"),
            spacing="2",
        )),
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


def _feature(name: str) -> rx.Component:
    return rx.checkbox(name, checked=TenantsState.edit_features.contains(name),
                       on_change=lambda checked: TenantsState.toggle_feature(name, checked), size="1")


def _license_dialog() -> rx.Component:
    errors, form = TenantsState.edit_errors, TenantsState.edit_form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(f"License of {TenantsState.edit_slug}"),
            rx.dialog.description("Features and limits apply to the tenant's API tokens at once.", size="2",
                                  margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    rx.grid(form_field("Name", "name", errors, default_value=form["name"]),
                            form_field("Plan", "plan", errors, default_value=form["plan"]),
                            columns="2", spacing="2", width="100%"),
                    rx.text("Features", size="2", weight="medium"),
                    rx.flex(*[_feature(f) for f in ALL_FEATURES], wrap="wrap", spacing="3"),
                    rx.grid(
                        form_field("Requests / min", "rpm", errors, type_="number", placeholder="unlimited",
                                   default_value=form["rpm"]),
                        form_field("Tokens / min", "tpm", errors, type_="number", placeholder="unlimited",
                                   default_value=form["tpm"]),
                        form_field("Budget $ / month", "monthly_budget_usd", errors, type_="number",
                                   placeholder="unlimited", default_value=form["monthly_budget_usd"]),
                        form_field("Max users", "max_users", errors, type_="number", placeholder="unlimited",
                                   default_value=form["max_users"]),
                        form_field("Max API tokens", "max_tokens", errors, type_="number", placeholder="unlimited",
                                   default_value=form["max_tokens"]),
                        form_field("License expires", "expires", errors, type_="date", default_value=form["expires"]),
                        columns="3", spacing="2", width="100%"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(TenantsState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  "Save license", type="submit", disabled=TenantsState.saving, id="save-license"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=TenantsState.save_license,
                reset_on_submit=False,
                key=TenantsState.edit_slug,
            ),
            max_width="620px",
        ),
        open=TenantsState.edit_slug != "",
        on_open_change=TenantsState.close_edit,
    )


def tenants_page() -> rx.Component:
    """List with search, create dialog, suspend/resume with confirmation."""
    return shell(
        page_header("Tenants", rx.cond(TenantsState.total == 1, "1 tenant on this gateway",
                                       f"{TenantsState.total} tenants on this gateway"), _create_dialog()),
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
        _license_dialog(),
        typed_confirm_dialog(TenantsState.delete_slug != "", "Delete tenant", TenantsState.delete_slug,
                             TenantsState.delete_typed, TenantsState.set_delete_typed, TenantsState.delete,
                             TenantsState.cancel_delete,
                             "This deletes the tenant's database: users, tokens, providers, models and usage. "
                             "It cannot be undone."),
    )
