"""Models page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    data_table,
    empty_state,
    form_error,
    form_field,
    loading_rows,
    no_tenant,
    page_header,
)
from state.models import ModelRow, ModelsState

HEADERS = ["Model", "Provider → upstream", "Kind", "Fallbacks", "Price in / out per 1k", "Limits", "Last 24 h", ""]


def _spark(row: ModelRow) -> rx.Component:
    return rx.hstack(
        rx.recharts.area_chart(
            rx.recharts.area(data_key="requests", stroke="var(--accent-9)", fill="var(--accent-4)",
                             is_animation_active=False, dot=False),
            data=row.spark, width=110, height=28, margin={"top": 2, "bottom": 2, "left": 0, "right": 0},
        ),
        rx.text(row.requests_24h, size="1", color_scheme="gray"),
        align="center",
        spacing="2",
    )


def _row(row: ModelRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.hstack(rx.text(row.name, weight="medium"),
                                rx.cond(row.enabled, rx.fragment(), rx.badge("disabled", color_scheme="gray")),
                                spacing="2")),
        rx.table.cell(rx.text(row.provider, " → ", rx.code(row.upstream_model, variant="ghost"), size="2")),
        rx.table.cell(rx.badge(row.kind, variant="soft", color_scheme=rx.cond(row.kind == "chat", "indigo", "cyan"))),
        rx.table.cell(rx.text(row.fallbacks, size="1")),
        rx.table.cell(rx.text(row.prices, size="1")),
        rx.table.cell(rx.text(row.limits, size="1")),
        rx.table.cell(_spark(row)),
        rx.table.cell(rx.cond(ModelsState.can_write, rx.hstack(
            rx.icon_button(rx.icon("pencil", size=14), size="1", variant="soft", on_click=ModelsState.open_edit(row.id)),
            rx.icon_button(rx.icon("trash_2", size=14), size="1", variant="soft", color_scheme="red",
                           on_click=ModelsState.ask_delete(row.id, row.name)),
            spacing="2"))),
        align="center",
    )


def _dialog() -> rx.Component:
    errors, form = ModelsState.form_errors, ModelsState.form
    editing = ModelsState.editing_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, "Edit model", "New model")),
            rx.dialog.description("Clients send the name as ", rx.code("model"), "; Gatehouse calls the provider "
                                  "with the upstream model.", size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    rx.cond(~editing, form_field("Name", "name", errors, placeholder="gpt-4o-mini")),
                    rx.grid(
                        rx.vstack(rx.text("Provider", size="2", weight="medium"),
                                  rx.select(ModelsState.providers, name="provider", default_value=form["provider"],
                                            width="100%", on_change=ModelsState.find_upstream),
                                  rx.cond(errors["provider"], rx.text(errors["provider"], size="1", color_scheme="red")),
                                  spacing="1", width="100%"),
                        rx.cond(~editing, rx.vstack(rx.text("Kind", size="2", weight="medium"),
                                                    rx.select(["chat", "embedding"], name="kind",
                                                              default_value=form["kind"], width="100%"),
                                                    spacing="1", width="100%")),
                        columns="2", spacing="2", width="100%"),
                    form_field("Upstream model", "upstream_model", errors, placeholder="gpt-4o-mini",
                               default_value=form["upstream_model"], suggestions=ModelsState.upstream_choices,
                               hint=ModelsState.upstream_hint),
                    form_field("Fallbacks, in order", "fallbacks", errors, placeholder="model-b, model-c",
                               default_value=form["fallbacks"], hint="Tried in this order when this model fails."),
                    rx.grid(
                        form_field("Input $ / 1k tokens", "input_price_per_1k", errors,
                                   default_value=form["input_price_per_1k"]),
                        form_field("Output $ / 1k tokens", "output_price_per_1k", errors,
                                   default_value=form["output_price_per_1k"]),
                        form_field("Requests / min", "rpm", errors, placeholder="unlimited", default_value=form["rpm"]),
                        form_field("Tokens / min", "tpm", errors, placeholder="unlimited", default_value=form["tpm"]),
                        columns="2", spacing="2", width="100%"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(ModelsState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  "Save", type="submit", disabled=ModelsState.saving, id="save-model"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=ModelsState.save,
                reset_on_submit=False,
                key=ModelsState.editing_id,
            ),
            max_width="540px",
        ),
        open=ModelsState.dialog_open,
        on_open_change=ModelsState.set_dialog,
    )


def models_page() -> rx.Component:
    """Models of the active tenant."""
    return shell(
        page_header("Models", f"Names clients use, and where they go · tenant {ModelsState.active_tenant}",
                    rx.cond(ModelsState.can_write & ~ModelsState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New model", on_click=ModelsState.open_create,
                                      disabled=ModelsState.providers.length() == 0, id="new-model-button"))),
        rx.cond(
            ModelsState.tenant_missing,
            no_tenant(),
            rx.cond(
                ~ModelsState.loading & (ModelsState.rows.length() == 0),
                empty_state("boxes", "No models yet",
                            rx.cond(ModelsState.providers.length() == 0,
                                    "Add a provider first, then publish its models under the names clients use.",
                                    "Publish a model: a public name, the provider's model, prices and limits."),
                            rx.cond(ModelsState.providers.length() == 0,
                                    rx.link(rx.button("Go to providers", variant="soft"), href="/providers"))),
                data_table(HEADERS, rx.cond(ModelsState.loading & (ModelsState.rows.length() == 0),
                                            loading_rows(len(HEADERS)), rx.foreach(ModelsState.rows, _row)),
                           "models-table"),
            ),
        ),
        _dialog(),
        confirm_dialog(ModelsState.delete_id != "", "Delete model",
                       f"Delete {ModelsState.delete_name}? Clients calling it get 404 from their next request.",
                       "Delete", ModelsState.delete, ModelsState.cancel_delete),
    )
