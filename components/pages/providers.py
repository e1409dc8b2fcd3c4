"""Providers page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import confirm_dialog, empty_state, form_error, form_field, no_tenant, page_header
from state.providers import TYPE_LABELS, TYPES, ProviderRow, ProvidersState


def _breaker(row: ProviderRow) -> rx.Component:
    # The circuit breaker, in words: healthy (calls go through), failing (a probe is let through
    # after errors), paused (calls refused for a while after repeated failures).
    return rx.tooltip(
        rx.badge(rx.icon(rx.match(row.breaker, ("open", "zap_off"), ("half-open", "zap"), "zap"), size=12),
                 row.health, variant="soft", class_name="provider-health",
                 color_scheme=rx.match(row.breaker, ("open", "red"), ("half-open", "amber"), "green")),
        content=rx.match(row.breaker, ("open", "Calls paused after repeated failures; retried shortly"),
                         ("half-open", "Recent failures: the next call tests whether it recovered"),
                         "Calls go through"))


def _card(row: ProviderRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(row.name, size="4", white_space="nowrap"),
                rx.badge(row.type_label, variant="outline"),
                rx.cond(row.enabled, rx.fragment(), rx.badge("disabled", color_scheme="gray")),
                rx.spacer(),
                _breaker(row),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.text(row.base_url, size="2", color_scheme="gray", font_family="var(--code-font-family)"),
            rx.hstack(
                rx.text("Key ", rx.code(row.api_key), size="1"),
                rx.text(f"Timeout {row.timeout_s} s · {row.max_retries} retries", size="1", color_scheme="gray"),
                rx.text(row.traffic, size="1", color_scheme="gray", class_name="provider-traffic"),
                spacing="4",
                wrap="wrap",
            ),
            rx.cond(row.test_result != "",
                    rx.callout(row.test_result, icon=rx.cond(row.test_ok, "circle_check", "circle_x"), size="1",
                               color_scheme=rx.cond(row.test_ok, "green", "red"), width="100%",
                               class_name="test-result")),
            rx.hstack(
                # Members are read-only: the test spends the stored credentials, so it is for writers too.
                rx.cond(ProvidersState.can_write, rx.fragment(
                    rx.button(rx.cond(ProvidersState.testing_id == row.id, rx.spinner(size="1"),
                                      rx.icon("plug_zap", size=14)),
                              "Test connection", size="1", variant="soft", on_click=ProvidersState.test(row.id),
                              disabled=ProvidersState.testing_id != ""),
                    rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft",
                              on_click=ProvidersState.open_edit(row.id)),
                    rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                              on_click=ProvidersState.ask_delete(row.id, row.name)),
                )),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="provider-card",
    )


def _dialog() -> rx.Component:
    errors = ProvidersState.form_errors
    form = ProvidersState.form
    editing = ProvidersState.editing_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, "Edit provider", "New provider")),
            rx.dialog.description(
                rx.cond(editing, "Leave the key empty to keep the stored one.",
                        "The key is encrypted before it is stored and is never shown again."),
                size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    form_field("Name", "name", errors, placeholder="openai", default_value=form["name"]),
                    rx.cond(~editing, rx.vstack(
                        rx.text("Type", size="2", weight="medium"),
                        rx.select.root(
                            rx.select.trigger(width="100%", id="provider-type"),
                            rx.select.content(*[rx.select.item(TYPE_LABELS[t], value=t) for t in TYPES]),
                            name="type", default_value=form["type"], on_change=ProvidersState.set_form_type),
                        spacing="1", width="100%")),
                    form_field("Base URL", "base_url", errors, placeholder="https://api.openai.com/v1",
                               default_value=form["base_url"]),
                    form_field("API key", "api_key", errors, type_="password",
                               hint="Optional for local OpenAI-compatible servers."),
                    rx.cond(ProvidersState.form_type == "azure-openai",
                            form_field("API version", "api_version", errors, placeholder="2024-10-21",
                                       default_value=form["api_version"])),
                    rx.grid(
                        form_field("Timeout (s)", "timeout_s", errors, type_="number", default_value=form["timeout_s"]),
                        form_field("Retries", "max_retries", errors, type_="number", default_value=form["max_retries"]),
                        columns="2", spacing="2", width="100%"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(ProvidersState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  "Save", type="submit", disabled=ProvidersState.saving, id="save-provider"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=ProvidersState.save,
                reset_on_submit=False,
                key=ProvidersState.editing_id,
            ),
            max_width="500px",
        ),
        open=ProvidersState.dialog_open,
        on_open_change=ProvidersState.set_dialog,
    )


def providers_page() -> rx.Component:
    """Providers of the active tenant."""
    return shell(
        page_header("Providers", f"Upstream APIs models are served from · tenant {ProvidersState.active_tenant}",
                    rx.cond(ProvidersState.can_write & ~ProvidersState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New provider", on_click=ProvidersState.open_create,
                                      id="new-provider-button"))),
        rx.cond(
            ProvidersState.tenant_missing,
            no_tenant(),
            rx.cond(
                ProvidersState.loading & (ProvidersState.rows.length() == 0),
                rx.skeleton(rx.box(height="8em"), loading=True, width="100%"),
                rx.cond(ProvidersState.rows.length() == 0,
                        empty_state("plug", "No providers yet",
                                    "Add OpenAI, an OpenAI-compatible server (vLLM, Ollama, llama.cpp...), Azure "
                                    "OpenAI or Anthropic; then publish models on it."),
                        rx.grid(rx.foreach(ProvidersState.rows, _card), columns="2", spacing="4", width="100%",
                                id="providers-list")),
            ),
        ),
        _dialog(),
        confirm_dialog(ProvidersState.delete_id != "", "Delete provider",
                       ProvidersState.delete_message, "Delete",
                       ProvidersState.delete, ProvidersState.cancel_delete, blocked=ProvidersState.delete_blocked),
    )
