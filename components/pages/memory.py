"""Memory page: the memory stores, their create/edit dialog, and the open store's browser
(components/pages/memory_browser.py)."""

from __future__ import annotations

import reflex as rx

from components.pages.memory_browser import browser, browser_dialogs
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
from state.memory import MemoryState, MemoryStoreRow

HEADERS = ["Name", "Memories", "Embedding model", "Extraction model", "Dedup threshold", "Top k", "Retention", ""]
EMPTY = ("A memory store keeps what agents learn about their users: an extraction model turns conversations into "
         "facts and decides whether each one is new, an update or a contradiction; every change has a history. "
         "To create one the tenant needs a chat model and an embedding model.")


def _field_error(key: str, hint: str = "") -> rx.Component:
    errors = MemoryState.form_errors
    return rx.cond(errors[key], rx.text(errors[key], size="1", color_scheme="red", class_name="field-error"),
                   rx.text(hint, size="1", color_scheme="gray"))


def _store_row(row: MemoryStoreRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.link(row.name, on_click=MemoryState.select(row.name), cursor="pointer", weight="medium",
                    class_name="memory-store-link"),
            rx.cond(row.description != "", rx.text(row.description, size="1", color_scheme="gray")),
            rx.cond(row.prompt != "", rx.text("prompt ", row.prompt, size="1", color_scheme="gray")),
            spacing="0")),
        rx.table.cell(rx.text(row.memories, size="2", class_name="memory-count")),
        rx.table.cell(rx.code(row.embedding_model, size="1")),
        rx.table.cell(rx.code(row.extraction_model, size="1")),
        rx.table.cell(rx.text(row.threshold, size="2")),
        rx.table.cell(rx.text(row.top_k, size="2")),
        rx.table.cell(rx.text(row.retention, size="1", color_scheme="gray")),
        rx.table.cell(rx.hstack(
            rx.button(rx.icon("brain", size=14), "Browse", size="1", variant="soft",
                      on_click=MemoryState.select(row.name), class_name="browse-store"),
            rx.cond(MemoryState.can_write, rx.fragment(
                rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft", color_scheme="gray",
                          on_click=MemoryState.open_edit(row.name), class_name="edit-store"),
                rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                          on_click=MemoryState.ask_delete(row.name), class_name="delete-store"))),
            spacing="2", justify="end")),
        align="center",
        class_name="memory-store-row",
        background=rx.cond(row.name == MemoryState.store, "var(--accent-2)", "transparent"),
    )


def _select(label: str, key: str, items, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.select(items, value=MemoryState.choice[key], on_change=lambda value: MemoryState.set_choice(key, value),
                  width="100%", id=f"store-{key.replace('_', '-')}"),
        _field_error(key, hint),
        spacing="1", width="100%")


def _dialog() -> rx.Component:
    errors, form = MemoryState.form_errors, MemoryState.form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(MemoryState.editing != "", "Edit memory store", "New memory store")),
            rx.dialog.description("Clients add and search memories at ", rx.code("/v1/memory_stores/<name>"),
                                  ", or give any chat completion the user's memories.", size="2",
                                  margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    form_field("Name", "name", errors, placeholder="assistant", default_value=form["name"],
                               hint="Letters, digits, '.', '_' and '-'."),
                    form_field("Description", "description", errors, default_value=form["description"],
                               placeholder="What it remembers"),
                    rx.grid(_select("Embedding model", "embedding_model", MemoryState.embedding_models,
                                    "Indexes memories; fixed once the store holds some."),
                            _select("Extraction model", "extraction_model", MemoryState.chat_models,
                                    "Turns messages into facts and decides."),
                            columns="2", spacing="3", width="100%"),
                    rx.grid(form_field("Dedup threshold", "similarity_threshold", errors,
                                       default_value=form["similarity_threshold"],
                                       hint="Memories this similar (0-1) are compared with a new fact."),
                            form_field("Top k", "top_k", errors, type_="number", default_value=form["top_k"],
                                       hint="Memories a search returns (1-100)."),
                            form_field("Retention (days)", "retention_days", errors, type_="number",
                                       default_value=form["retention_days"], placeholder="kept",
                                       hint="Empty: memories never expire."),
                            columns="3", spacing="3", width="100%"),
                    rx.grid(_select("Extraction prompt", "prompt", MemoryState.prompt_choices,
                                    "Optional: a stored prompt replaces the built-in one."),
                            form_field("Prompt label", "label", errors, placeholder="production",
                                       default_value=form["label"], hint="Empty: production, else the latest."),
                            columns="2", spacing="3", width="100%"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(MemoryState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  rx.cond(MemoryState.editing != "", "Save", "Create"), type="submit",
                                  disabled=MemoryState.saving, id="save-store"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=MemoryState.save,
                reset_on_submit=False,
                key=MemoryState.editing,
            ),
            max_width="640px",
        ),
        open=MemoryState.dialog_open,
        on_open_change=MemoryState.set_dialog,
    )


def _empty() -> rx.Component:
    ready = (MemoryState.chat_models.length() > 0) & (MemoryState.embedding_models.length() > 0)
    return empty_state("brain", "No memory stores yet", EMPTY, rx.hstack(
        rx.cond(~ready, rx.link(rx.button(rx.icon("boxes", size=16), "Models", variant="soft"), href="/models")),
        rx.cond(MemoryState.can_write & ready,
                rx.button(rx.icon("plus", size=16), "New memory store", on_click=MemoryState.open_create)),
        spacing="3"))


def memory_page() -> rx.Component:
    """Memory stores of the active tenant."""
    return shell(
        page_header("Memory", f"Long-term memory for agents, with the history of every change · tenant "
                              f"{MemoryState.active_tenant}",
                    rx.cond(MemoryState.can_write & ~MemoryState.tenant_missing & (MemoryState.unavailable == ""),
                            rx.button(rx.icon("plus", size=16), "New memory store", on_click=MemoryState.open_create,
                                      id="new-memory-store"))),
        rx.cond(
            MemoryState.tenant_missing,
            no_tenant(),
            rx.cond(
                MemoryState.unavailable != "",
                empty_state("ban", "Memory unavailable", MemoryState.unavailable),
                rx.cond(
                    MemoryState.loading & (MemoryState.rows.length() == 0),
                    data_table(HEADERS, loading_rows(len(HEADERS)), "memory-stores-loading"),
                    rx.cond(MemoryState.rows.length() == 0, _empty(),
                            rx.vstack(data_table(HEADERS, rx.foreach(MemoryState.rows, _store_row),
                                                 "memory-stores-table"),
                                      rx.cond(MemoryState.store != "", browser()),
                                      width="100%", spacing="4")),
                ),
            ),
        ),
        _dialog(),
        *browser_dialogs(),
        confirm_dialog(MemoryState.delete_name != "", "Delete memory store",
                       f"Delete the memory store {MemoryState.delete_name} with all its memories and their history? "
                       "Clients using it get 404 from then on.", "Delete", MemoryState.confirm_delete,
                       MemoryState.ask_delete("")),
    )
