"""RAG page: the modules, their create/edit dialog, and a test panel with the streamed answer and its citations."""

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
from state.rag import ModuleRow, RagState, StoreChoice
from state.rag_test_panel import RECENT, CitationRow, RagPanelState, RecentCall, UploadRow

HEADERS = ["Name", "Vector stores", "Model", "Top k", "Threshold", "No results", ""]
EMPTY = ("A RAG module answers questions from the documents of one or more vector stores: it finds the chunks "
         "closest to the question, has a chat model answer from them only, and returns the chunks as numbered "
         "citations. To create one the tenant needs a vector store with files and a chat model.")


def _field_error(key: str, hint: str = "") -> rx.Component:
    errors = RagState.form_errors
    return rx.cond(errors[key], rx.text(errors[key], size="1", color_scheme="red", class_name="field-error"),
                   rx.text(hint, size="1", color_scheme="gray"))


def _module_row(row: ModuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.link(row.name, on_click=RagState.select(row.name), cursor="pointer", weight="medium",
                    class_name="module-link"),
            rx.cond(row.description != "", rx.text(row.description, size="1", color_scheme="gray")),
            rx.cond(row.extras != "", rx.text(row.extras, size="1", color_scheme="gray")),
            spacing="0")),
        rx.table.cell(rx.text(row.stores, size="1")),
        rx.table.cell(rx.code(row.model, size="1")),
        rx.table.cell(rx.text(row.top_k, size="2")),
        rx.table.cell(rx.text(row.threshold, size="2")),
        rx.table.cell(rx.badge(row.no_results, variant="soft",
                               color_scheme=rx.cond(row.no_results == "error", "amber", "gray"))),
        rx.table.cell(rx.hstack(
            rx.button(rx.icon("message_square_quote", size=14), "Test", size="1", variant="soft",
                      on_click=RagState.select(row.name), class_name="test-module"),
            rx.cond(RagState.can_write, rx.fragment(
                rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft", color_scheme="gray",
                          on_click=RagState.open_edit(row.name), class_name="edit-module"),
                rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                          on_click=RagState.ask_delete(row.name), class_name="delete-module"))),
            spacing="2", justify="end")),
        align="center",
        class_name="module-row",
        background=rx.cond(row.name == RagState.module, "var(--accent-2)", "transparent"),
    )


def _citation(c: CitationRow) -> rx.Component:
    return rx.hstack(
        rx.badge(f"[{c.index}]", variant="solid", size="2", class_name="citation-number"),
        rx.vstack(
            rx.text(c.filename, weight="medium", size="2", class_name="citation-file"),
            rx.text(c.text, size="1", color_scheme="gray", max_width="760px",
                    style={"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}),
            spacing="1", min_width="0", flex="1"),
        rx.badge(f"score {c.score}", variant="soft", color_scheme="indigo"),
        rx.button(rx.icon("file_search", size=14), "Show chunk", size="1", variant="soft",
                  on_click=RagPanelState.show_citation(c.index), class_name="show-chunk"),
        align="center", spacing="3", width="100%", padding="0.6em",
        border="1px solid var(--gray-5)", border_radius="var(--radius-3)", background="var(--gray-1)",
        class_name="citation",
    )


def _answer() -> rx.Component:
    return rx.vstack(
        rx.text("Q: ", RagPanelState.asked, size="2", weight="medium", id="asked-question"),
        rx.box(
            rx.cond(RagPanelState.answer != "", rx.markdown(RagPanelState.answer),
                    rx.cond(RagPanelState.streaming, rx.hstack(rx.icon("hourglass", size=14, color="var(--gray-10)"),
                                                         rx.text("retrieving sources and answering…", size="2",
                                                                 color_scheme="gray"), align="center"))),
            width="100%", padding_x="1em", padding_y="0.3em", border_radius="var(--radius-3)",
            background="var(--gray-3)", id="rag-answer",
            display=rx.cond((RagPanelState.answer != "") | RagPanelState.streaming, "block", "none")),
        rx.cond(RagPanelState.error_title != "", rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.callout.text(rx.text(RagPanelState.error_title, weight="bold"), rx.text(RagPanelState.error)),
            color_scheme=rx.cond(RagPanelState.error_title == "Empty answer", "amber", "red"), width="100%",
            id="rag-error")),
        rx.cond(RagPanelState.stats != "", rx.text(RagPanelState.stats, size="1", color_scheme="gray", id="rag-stats")),
        rx.cond(RagPanelState.citations.length() > 0, rx.vstack(
            rx.text("Sources", size="2", weight="bold"),
            rx.vstack(rx.foreach(RagPanelState.citations, _citation), spacing="2", width="100%"),
            spacing="2", width="100%", id="rag-citations")),
        spacing="3", width="100%",
    )


def _test_panel() -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.icon("message_square_quote", size=18),
                  rx.heading("Test ", RagState.module, size="4", id="test-module-name"),
                  align="center", spacing="2"),
        rx.form(
            rx.hstack(
                rx.input(value=RagPanelState.question, on_change=RagPanelState.set_question, size="3", width="100%",
                         placeholder="Ask a question this module's documents answer…", id="rag-question",
                         name="question",
                         disabled=RagPanelState.streaming | ~RagState.can_write),
                # No spinner while streaming (see the Playground: its animation competes with a local model).
                rx.button(rx.cond(RagPanelState.streaming, rx.icon("hourglass", size=16), rx.icon("send", size=16)),
                          rx.cond(RagPanelState.streaming, "Answering…", "Ask"), type="submit", size="3",
                          disabled=RagPanelState.streaming | ~RagState.can_write, id="rag-ask"),
                width="100%"),
            on_submit=RagPanelState.ask, reset_on_submit=False, width="100%"),
        rx.cond(~RagState.can_write, rx.text("Members can read modules; asking calls the tenant's models, which "
                                             "needs a tenant admin.", size="1", color_scheme="gray")),
        rx.cond(RagPanelState.asked != "", _answer()),
        spacing="3", width="100%"),
        width="100%", id="test-panel")


def _kind(kind) -> rx.Component:
    return rx.badge(kind, variant="soft", size="1",
                    color_scheme=rx.match(kind, ("embedding", "cyan"), ("rerank", "violet"), "indigo"))


def _recent_row(r: RecentCall) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r.at, size="1", white_space="nowrap")),
        rx.table.cell(_kind(r.kind)),
        rx.table.cell(rx.code(r.model, size="1")),
        rx.table.cell(rx.tooltip(rx.badge(r.status, variant="soft", size="1",
                                          color_scheme=rx.cond(r.status < 400, "green", "red")),
                                 content=rx.cond(r.error != "", r.error, "ok"))),
        rx.table.cell(rx.text(r.latency, size="1"), text_align="right"),
        rx.table.cell(rx.text(r.tokens, size="1", white_space="nowrap"), text_align="right"),
        rx.table.cell(rx.text(r.cost, size="1"), text_align="right"),
        align="center", class_name="recent-call")


def _recent() -> rx.Component:
    headers = [("Time (UTC)", "left"), ("Call", "left"), ("Model", "left"), ("Status", "left"), ("Latency ms", "right"),
               ("Tokens in / out", "right"), ("Cost", "right")]
    return rx.card(rx.vstack(
        rx.hstack(rx.icon("history", size=16), rx.text("Recent calls", weight="bold", size="3"),
                  rx.text(f"latest {RECENT} model calls of this module, any client", size="1", color_scheme="gray"),
                  rx.spacer(),
                  rx.icon_button(rx.icon("refresh_cw", size=14), size="1", variant="ghost", id="refresh-recent",
                                 on_click=RagPanelState.load_recent("", ""), aria_label="Refresh"),
                  align="center", spacing="2", width="100%"),
        rx.cond(RagPanelState.recent.length() == 0,
                rx.text(rx.cond(RagPanelState.recent_loaded, "No queries yet", "Loading…"), size="2",
                        color_scheme="gray", id="recent-empty", padding_y="0.5em"),
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h, text_align=a)
                                                   for h, a in headers])),
                    rx.table.body(rx.foreach(RagPanelState.recent, _recent_row)),
                    size="1", variant="ghost", width="100%", id="recent-calls")),
        spacing="2", width="100%"), width="100%", overflow_x="auto")


def _upload_row(u: UploadRow) -> rx.Component:
    return rx.hstack(
        rx.icon("file_text", size=14, color="var(--gray-10)"),
        rx.vstack(rx.text(u.filename, size="2", weight="medium", class_name="upload-name"),
                  rx.text("into ", u.store, size="1", color_scheme="gray"),
                  rx.cond(u.error != "", rx.text(u.error, size="1", color_scheme="red")),
                  spacing="0", min_width="0", flex="1"),
        rx.badge(rx.match(u.status, ("in_progress", "indexing…"), u.status), variant="soft",
                 color_scheme=rx.match(u.status, ("completed", "green"), ("in_progress", "blue"), "red"),
                 class_name="upload-status"),
        align="center", spacing="2", width="100%", class_name="upload-row")


def _uploader() -> rx.Component:
    stores = RagPanelState.module_stores
    return rx.card(rx.vstack(
        rx.hstack(rx.icon("file_up", size=16), rx.text("Add documents", weight="bold", size="3"),
                  align="center", spacing="2"),
        rx.cond(stores.length() > 1,
                rx.vstack(rx.text("Into the store", size="1", color_scheme="gray"),
                          rx.select.root(rx.select.trigger(width="100%", id="upload-store"),
                                         rx.select.content(rx.foreach(
                                             stores, lambda s: rx.select.item(s.name, value=s.id))),
                                         value=RagPanelState.module_store, on_change=RagPanelState.set_upload_store),
                          spacing="1", width="100%"),
                rx.cond(stores.length() == 1,
                        rx.text("Into the store ", stores[0].name, size="1", color_scheme="gray"),
                        rx.text("This module has no store left: edit it.", size="1", color_scheme="gray"))),
        rx.upload(rx.vstack(rx.icon("upload", size=18, color="var(--gray-10)"),
                            rx.text("Drop files or click to choose", size="1", color_scheme="gray"),
                            align="center", spacing="1"),
                  id="rag-upload", multiple=True, max_files=20, border="1px dashed var(--gray-7)", padding="0.8em",
                  border_radius="var(--radius-3)", width="100%", cursor="pointer"),
        rx.hstack(rx.foreach(rx.selected_files("rag-upload"), lambda name: rx.badge(name, variant="outline")),
                  spacing="1", wrap="wrap", width="100%"),
        rx.button(rx.cond(RagPanelState.uploading, rx.spinner(size="2"), rx.icon("upload", size=14)),
                  "Upload and index", size="2", width="100%", id="rag-upload-files",
                  disabled=RagPanelState.uploading | (stores.length() == 0),
                  on_click=RagPanelState.upload(rx.upload_files(upload_id="rag-upload"))),
        rx.vstack(rx.foreach(RagPanelState.uploads, _upload_row), spacing="2", width="100%", id="rag-uploads"),
        spacing="2", width="100%"), width="100%")


def _module_panel() -> rx.Component:
    return rx.vstack(
        _test_panel(),
        rx.grid(_recent(), rx.cond(RagState.can_write, _uploader()),
                grid_template_columns=rx.cond(RagState.can_write, "minmax(0, 2fr) minmax(260px, 1fr)", "1fr"),
                spacing="4", width="100%", align_items="start"),
        spacing="4", width="100%")


def _store_choice(store: StoreChoice) -> rx.Component:
    return rx.text(rx.flex(
        rx.checkbox(checked=RagState.form_stores.contains(store.id),
                    on_change=lambda checked: RagState.toggle_store(store.id, checked)),
        store.name, spacing="2", align="center"), as_="label", size="2", class_name="store-choice")


def _select(label: str, key: str, items, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.select(items, value=RagState.choice[key], on_change=lambda value: RagState.set_choice(key, value),
                  width="100%", id=f"module-{key.replace('_', '-')}"),
        _field_error(key, hint),
        spacing="1", width="100%")


def _radio(value: str, label: str) -> rx.Component:
    return rx.text(rx.flex(rx.radio_group.item(value=value), label, spacing="2", align="center"), as_="label", size="2")


def _dialog() -> rx.Component:
    errors, form = RagState.form_errors, RagState.form
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(RagState.editing != "", "Edit RAG module", "New RAG module")),
            rx.dialog.description("Clients ask it at ", rx.code("/v1/rag/<name>/query"),
                                  ", or ground any chat completion with it.", size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    form_field("Name", "name", errors, placeholder="handbook", default_value=form["name"],
                               hint="Letters, digits, '.', '_' and '-'."),
                    form_field("Description", "description", errors, default_value=form["description"],
                               placeholder="What questions it answers"),
                    rx.text("Vector stores", size="2", weight="medium"),
                    rx.cond(RagState.stores.length() == 0,
                            rx.text("This tenant has no vector store yet: create one on the Vector stores page.",
                                    size="2", color_scheme="gray"),
                            rx.scroll_area(rx.vstack(rx.foreach(RagState.stores, _store_choice), spacing="2"),
                                           max_height="9em", padding="0.6em", type="auto",
                                           border="1px solid var(--gray-6)", border_radius="var(--radius-3)",
                                           id="module-stores")),
                    _field_error("vector_store_ids", "Searched together; the best chunks of all of them are used."),
                    rx.grid(_select("Chat model", "model", RagState.chat_models, "Writes the answer."),
                            _select("Rerank model", "rerank_model", RagState.rerank_choices,
                                    "Optional: a chat model reorders the chunks."),
                            columns="2", spacing="3", width="100%"),
                    rx.grid(_select("Stored prompt", "prompt", RagState.prompt_choices,
                                    "Optional. Variables: context, question."),
                            form_field("Prompt label", "label", errors, placeholder="production",
                                       default_value=form["label"], suggestions=RagState.label_choices,
                                       hint="Empty: production, else the latest."),
                            columns="2", spacing="3", width="100%"),
                    rx.grid(form_field("Top k", "top_k", errors, type_="number", default_value=form["top_k"],
                                       hint="Chunks given to the model (1-50)."),
                            form_field("Score threshold", "score_threshold", errors,
                                       default_value=form["score_threshold"],
                                       hint="Chunks scoring less are dropped (0-1)."),
                            columns="2", spacing="3", width="100%"),
                    rx.text("When nothing matches", size="2", weight="medium"),
                    rx.radio_group.root(
                        rx.vstack(_radio("answer", "Answer that it does not know (no model call)"),
                                  _radio("error", "Fail with a no_results error (HTTP 422)"), spacing="1"),
                        value=RagState.choice["no_results"], id="module-no-results", name="no_results",
                        on_change=lambda value: RagState.set_choice("no_results", value)),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(RagState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  rx.cond(RagState.editing != "", "Save", "Create"), type="submit",
                                  disabled=RagState.saving, id="save-module"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=RagState.save,
                reset_on_submit=False,
                key=RagState.editing,
            ),
            max_width="600px",
        ),
        open=RagState.dialog_open,
        on_open_change=RagState.set_dialog,
    )


def _citation_dialog() -> rx.Component:
    c = RagPanelState.shown_citation
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(f"[{c.index}] ", c.filename),
            rx.data_list.root(
                rx.data_list.item(rx.data_list.label("File id"),
                                  rx.data_list.value(rx.code(c.file_id, id="chunk-file-id"))),
                rx.data_list.item(rx.data_list.label("Vector store"), rx.data_list.value(c.store)),
                rx.data_list.item(rx.data_list.label("Chunk"), rx.data_list.value(rx.code(c.chunk_id, size="1"))),
                rx.data_list.item(rx.data_list.label("Score"), rx.data_list.value(c.score)),
                rx.cond(c.attributes != "", rx.data_list.item(rx.data_list.label("Attributes"),
                                                              rx.data_list.value(c.attributes))),
                size="2", margin_y="1em"),
            rx.scroll_area(rx.text(c.text, size="2", white_space="pre-wrap", id="chunk-text"), max_height="50vh",
                           type="auto", padding="0.8em", background="var(--gray-2)",
                           border_radius="var(--radius-3)"),
            rx.hstack(rx.button("Close", variant="soft", color_scheme="gray", on_click=RagPanelState.show_citation(0),
                                id="close-chunk"), justify="end", width="100%", margin_top="1em"),
            max_width="640px",
        ),
        open=RagPanelState.shown != 0,
        on_open_change=lambda _: RagPanelState.show_citation(0),
    )


def _empty() -> rx.Component:
    return empty_state("book_open_check", "No RAG modules yet", EMPTY, rx.hstack(
        rx.cond(RagState.stores.length() == 0,
                rx.link(rx.button(rx.icon("library", size=16), "Vector stores", variant="soft"),
                        href="/vector-stores")),
        rx.cond(RagState.chat_models.length() == 0,
                rx.link(rx.button(rx.icon("boxes", size=16), "Models", variant="soft"), href="/models")),
        rx.cond(RagState.can_write & (RagState.stores.length() > 0) & (RagState.chat_models.length() > 0),
                rx.button(rx.icon("plus", size=16), "New module", on_click=RagState.open_create)),
        spacing="3"))


def rag_page() -> rx.Component:
    """RAG modules of the active tenant."""
    return shell(
        page_header("RAG", f"Answers grounded in vector stores, with citations · tenant {RagState.active_tenant}",
                    rx.cond(RagState.can_write & ~RagState.tenant_missing & (RagState.unavailable == ""),
                            rx.button(rx.icon("plus", size=16), "New module", on_click=RagState.open_create,
                                      id="new-module-button"))),
        rx.cond(
            RagState.tenant_missing,
            no_tenant(),
            rx.cond(
                RagState.unavailable != "",
                empty_state("ban", "RAG unavailable", RagState.unavailable),
                rx.cond(
                    RagState.loading & (RagState.rows.length() == 0),
                    data_table(HEADERS, loading_rows(len(HEADERS)), "modules-loading"),
                    rx.cond(RagState.rows.length() == 0, _empty(),
                            rx.vstack(data_table(HEADERS, rx.foreach(RagState.rows, _module_row), "modules-table"),
                                      rx.cond(RagState.module != "", _module_panel()),
                                      width="100%", spacing="4")),
                ),
            ),
        ),
        _dialog(),
        _citation_dialog(),
        confirm_dialog(RagState.delete_name != "", "Delete RAG module",
                       f"Delete the RAG module {RagState.delete_name}? Clients querying it get 404 from then on; "
                       "its vector stores and their files are kept.", "Delete", RagState.confirm_delete,
                       RagState.ask_delete("")),
    )
