"""Vector stores page: the list, a store's files (upload, status, attributes) and a search box."""

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
from state.vector_stores import FileRow, Hit, StoreRow, VectorStoresState

STORE_HEADERS = ["Name", "Status", "Files", "Size", "Embedding model", "Expires", ""]
FILE_HEADERS = ["File", "Status", "Attributes", "Size", ""]
STATUS_COLORS = {"completed": "green", "in_progress": "amber", "failed": "red", "cancelled": "gray",
                 "expired": "gray"}


def _status(status: rx.Var) -> rx.Component:
    return rx.match(status, *[(k, rx.badge(k.replace("_", " "), color_scheme=c, variant="soft"))
                              for k, c in STATUS_COLORS.items()], rx.badge(status, variant="soft"))


def _store_row(row: StoreRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.name, on_click=VectorStoresState.open_store(row.id), cursor="pointer",
                              weight="medium", class_name="store-link")),
        rx.table.cell(_status(row.status)),
        rx.table.cell(rx.text(row.files, size="1")),
        rx.table.cell(rx.text(row.size, size="1")),
        rx.table.cell(rx.code(row.model, size="1")),
        rx.table.cell(rx.text(row.expires, size="1", color_scheme="gray")),
        rx.table.cell(rx.cond(VectorStoresState.can_write, rx.button(
            rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
            on_click=VectorStoresState.ask_delete_store(row.id), class_name="delete-store"))),
        align="center",
        background=rx.cond(row.id == VectorStoresState.store_id, "var(--accent-2)", "transparent"),
    )


def _file_row(row: FileRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row.filename, weight="medium", size="2"),
                                rx.cond(row.error != "", rx.text(row.error, size="1", color_scheme="red",
                                                                 class_name="file-error")),
                                spacing="0")),
        rx.table.cell(_status(row.status)),
        rx.table.cell(rx.text(row.attributes, size="1", font_family="var(--code-font-family)")),
        rx.table.cell(rx.text(row.size, size="1")),
        rx.table.cell(rx.cond(VectorStoresState.can_write, rx.hstack(
            rx.button(rx.icon("tags", size=14), "Attributes", size="1", variant="soft",
                      on_click=VectorStoresState.edit_attributes(row.id), class_name="edit-attributes"),
            rx.button(rx.icon("trash_2", size=14), "Remove", size="1", variant="soft", color_scheme="red",
                      on_click=VectorStoresState.ask_delete_file(row.id), class_name="remove-file"),
            spacing="2"))),
        align="center",
        class_name="file-row",
    )


def _hit(hit: Hit) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.badge(hit.score, variant="soft", color_scheme="indigo"),
                      rx.text(hit.filename, weight="medium", size="2"),
                      rx.cond(hit.attributes != "", rx.text(hit.attributes, size="1", color_scheme="gray")),
                      align="center", spacing="2"),
            rx.text(hit.text, size="2", white_space="pre-wrap"),
            spacing="1"),
        width="100%",
        class_name="search-hit",
    )


def _uploader() -> rx.Component:
    return rx.vstack(
        rx.upload(
            rx.vstack(rx.icon("upload", size=22, color="var(--gray-10)"),
                      rx.text("Drop files here, or click to choose (txt, md, html, json, csv, pdf, docx, code)",
                              size="2", color_scheme="gray"),
                      align="center", spacing="1"),
            id="vector-upload", multiple=True, max_files=20, border="1px dashed var(--gray-7)", padding="1.2em",
            border_radius="var(--radius-3)", width="100%", cursor="pointer"),
        rx.hstack(
            rx.foreach(rx.selected_files("vector-upload"), lambda name: rx.badge(name, variant="outline")),
            rx.spacer(),
            rx.button(rx.cond(VectorStoresState.uploading, rx.spinner(size="2"), rx.icon("upload", size=16)),
                      "Upload and index", disabled=VectorStoresState.uploading, id="upload-files",
                      on_click=VectorStoresState.upload(rx.upload_files(upload_id="vector-upload"))),
            width="100%", align="center", wrap="wrap"),
        width="100%",
        spacing="2",
    )


def _store_panel() -> rx.Component:
    return rx.vstack(
        rx.heading(VectorStoresState.open_name, size="4", id="open-store"),
        rx.cond(VectorStoresState.can_write, _uploader()),
        rx.cond(VectorStoresState.files.length() == 0,
                rx.text("No files yet: upload some above.", size="2", color_scheme="gray"),
                data_table(FILE_HEADERS, rx.foreach(VectorStoresState.files, _file_row), "files-table")),
        rx.form(
            rx.hstack(
                rx.input(value=VectorStoresState.query, on_change=VectorStoresState.set_query,
                         placeholder="Search this store…", width="100%", id="search-query"),
                rx.button(rx.cond(VectorStoresState.searching, rx.spinner(size="2"), rx.icon("search", size=16)),
                          "Search", type="submit", id="search-button"),
                width="100%"),
            on_submit=VectorStoresState.search,
            width="100%",
        ),
        rx.cond(VectorStoresState.searched & (VectorStoresState.hits.length() == 0),
                rx.text("Nothing found.", size="2", color_scheme="gray")),
        rx.vstack(rx.foreach(VectorStoresState.hits, _hit), width="100%", spacing="2", id="search-results"),
        width="100%",
        spacing="3",
    )


def _create_dialog() -> rx.Component:
    errors = VectorStoresState.form_errors
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New vector store"),
            rx.dialog.description("Files added to it are split into chunks, embedded with the model chosen here "
                                  "and searchable by the API and RAG.", size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    form_field("Name", "name", errors, placeholder="handbook"),
                    rx.text("Embedding model", size="2", weight="medium"),
                    rx.select(VectorStoresState.models, name="embedding_model", placeholder="the first one",
                              id="store-model"),
                    rx.cond(errors["embedding_model"], rx.text(errors["embedding_model"], size="1",
                                                               color_scheme="red")),
                    form_field("Expires after (days without use)", "expires_days", errors, type_="number",
                               placeholder="never"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(VectorStoresState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  "Create", type="submit", disabled=VectorStoresState.saving, id="create-store"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=VectorStoresState.create,
            ),
            max_width="480px",
        ),
        open=VectorStoresState.dialog_open,
        on_open_change=VectorStoresState.set_dialog,
    )


def _attributes_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("File attributes"),
            rx.dialog.description("Up to 16 pairs of strings, numbers or booleans; search filters read them.",
                                  size="2"),
            rx.text_area(value=VectorStoresState.attributes_text, on_change=VectorStoresState.set_attributes_text,
                         rows="6", width="100%", font_family="var(--code-font-family)", id="attributes-text"),
            rx.cond(VectorStoresState.attributes_error != "",
                    rx.text(VectorStoresState.attributes_error, size="1", color_scheme="red")),
            rx.hstack(rx.button("Cancel", variant="soft", color_scheme="gray",
                                on_click=VectorStoresState.close_attributes),
                      rx.button("Save", on_click=VectorStoresState.save_attributes, id="save-attributes"),
                      justify="end", spacing="3", width="100%", margin_top="1em"),
            max_width="480px",
        ),
        open=VectorStoresState.attributes_file != "",
    )


def vector_stores_page() -> rx.Component:
    """Vector stores of the active tenant."""
    return shell(
        page_header("Vector stores", f"Documents for search and RAG · tenant {VectorStoresState.active_tenant}",
                    rx.cond(VectorStoresState.can_write & ~VectorStoresState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New vector store",
                                      on_click=VectorStoresState.open_create, id="new-store-button"))),
        rx.cond(
            VectorStoresState.tenant_missing,
            no_tenant(),
            rx.cond(
                VectorStoresState.loading & (VectorStoresState.rows.length() == 0),
                loading_rows(len(STORE_HEADERS)),
                rx.cond(VectorStoresState.rows.length() == 0,
                        empty_state("library", "No vector stores yet",
                                    "A vector store holds documents split into chunks and embedded with one of "
                                    "the tenant's embedding models, for search from the API and for RAG."),
                        rx.vstack(data_table(STORE_HEADERS, rx.foreach(VectorStoresState.rows, _store_row),
                                             "stores-table"),
                                  rx.cond(VectorStoresState.store_id != "", _store_panel()),
                                  width="100%", spacing="4")),
            ),
        ),
        _create_dialog(),
        _attributes_dialog(),
        confirm_dialog((VectorStoresState.delete_store_id != "") | (VectorStoresState.delete_file_id != ""),
                       "Delete", VectorStoresState.delete_message, "Delete", VectorStoresState.confirm_delete,
                       VectorStoresState.cancel_delete),
    )
