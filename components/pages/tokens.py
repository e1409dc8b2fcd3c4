"""API tokens page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    data_table,
    empty_state,
    form_dialog,
    form_field,
    loading_rows,
    no_tenant,
    page_header,
    secret_reveal,
    select_field,
    status_badge,
)
from state.tokens import TokenRow, TokensState

HEADERS = ["Name", "Prefix", "Project", "Models", "Status", "Expires", "Last used", ""]


def _model_choice(name: rx.Var) -> rx.Component:
    return rx.checkbox(name, checked=TokensState.selected_models.contains(name),
                       on_change=lambda checked: TokensState.toggle_model(name, checked), size="1")


def _feature_choice(name: rx.Var) -> rx.Component:
    return rx.checkbox(name, checked=TokensState.selected_features.contains(name),
                       on_change=lambda checked: TokensState.toggle_feature(name, checked), size="1")


def _create_dialog() -> rx.Component:
    errors = TokensState.form_errors
    models = rx.vstack(
        rx.text("Models allowed", size="2", weight="medium"),
        rx.cond(TokensState.models.length() > 0,
                rx.flex(rx.foreach(TokensState.models, _model_choice), wrap="wrap", spacing="3"),
                rx.text("No models yet: the token may use any model added later.", size="1", color_scheme="gray")),
        rx.text("None ticked: every model of the tenant.", size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
    )
    features = rx.vstack(
        rx.text("Features allowed", size="2", weight="medium"),
        rx.flex(rx.foreach(TokensState.features, _feature_choice), wrap="wrap", spacing="3", id="token-features"),
        rx.text("None ticked: every feature the tenant's license has.", size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
    )
    limits = rx.grid(
        form_field("Requests / min", "rpm", errors, type_="number", placeholder="unlimited"),
        form_field("Tokens / min", "tpm", errors, type_="number", placeholder="unlimited"),
        form_field("Budget $ / month", "monthly_budget_usd", errors, type_="number", placeholder="unlimited"),
        columns="3",
        spacing="2",
        width="100%",
    )
    return form_dialog(
        trigger=rx.button(rx.icon("plus", size=16), "New token", id="new-token-button"),
        title="New API token",
        description="The secret is shown once, right after creation. Applications send it as a bearer token.",
        fields=[
            form_field("Name", "name", errors, placeholder="backend-prod"),
            select_field("Project", "project", TokensState.project_choices, errors, default_value="(none)"),
            models,
            features,
            form_field("Expires on", "expires_at", errors, type_="date", hint="Leave empty for no expiry."),
            limits,
        ],
        errors=errors, submitting=TokensState.creating, on_submit=TokensState.create,
        open_=TokensState.create_open, on_open_change=TokensState.open_create, submit_id="create-token-submit",
    )


def _row(row: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.code(row.prefix + "…", variant="ghost")),
        rx.table.cell(row.project),
        rx.table.cell(rx.vstack(rx.text(row.models, size="1"),
                                rx.cond(row.features != "all",
                                        rx.text("features: ", row.features, size="1", color_scheme="gray")),
                                spacing="0")),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.expires, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(row.last_used, size="1", color_scheme="gray")),
        rx.table.cell(rx.cond(
            TokensState.can_write & (row.status == "active"),
            rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                      on_click=TokensState.ask_revoke(row.id, row.name)),
        )),
        align="center",
    )


def tokens_page() -> rx.Component:
    """Tokens of the active tenant."""
    return shell(
        page_header("API tokens", f"Credentials applications use on /v1 · tenant {TokensState.active_tenant}",
                    rx.cond(TokensState.can_write & ~TokensState.tenant_missing, _create_dialog())),
        secret_reveal(TokensState.new_secret, TokensState.dismiss_secret,
                      "Copy this token now: it will never be shown again."),
        rx.cond(
            TokensState.tenant_missing,
            no_tenant(),
            rx.cond(
                ~TokensState.loading & (TokensState.rows.length() == 0),
                empty_state("key_round", "No API tokens yet",
                            "Create a token for each application; revoke it to cut access at once."),
                data_table(HEADERS, rx.cond(TokensState.loading & (TokensState.rows.length() == 0),
                                            loading_rows(len(HEADERS)), rx.foreach(TokensState.rows, _row)),
                           "tokens-table"),
            ),
        ),
        confirm_dialog(TokensState.revoke_id != "", "Revoke API token",
                       f"Revoke {TokensState.revoke_name}? Applications using it get 401 from their next request.",
                       "Revoke", TokensState.revoke, TokensState.cancel_revoke),
    )
