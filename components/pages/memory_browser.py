"""Memory page, the open store: counters per day, memories by user / agent / run with semantic search, and the
history, edit, delete and forget dialogs."""

from __future__ import annotations

import reflex as rx

from components.widgets import chart_card, confirm_dialog, data_table, typed_confirm_dialog
from state.memory_browser import EventRow, MemoryBrowserState, MemoryRow

B = MemoryBrowserState
HEADERS = ["Memory", "Scope", rx.cond(B.searched != "", "Score", "Updated"), ""]
EVENT_COLORS = {"ADD": "green", "UPDATE": "indigo", "DELETE": "red", "FORGET": "red", "EXPIRE": "gray"}


def _activity_chart() -> rx.Component:
    return rx.recharts.composed_chart(
        rx.recharts.bar(data_key="adds", name="added", stack_id="m", fill="var(--grass-9)", is_animation_active=False),
        rx.recharts.bar(data_key="updates", name="updated", stack_id="m", fill="var(--indigo-9)",
                        is_animation_active=False),
        rx.recharts.bar(data_key="deletes", name="deleted", stack_id="m", fill="var(--red-9)",
                        is_animation_active=False),
        rx.recharts.line(data_key="searches", name="searches", stroke="var(--orange-9)", stroke_width=2.5,
                         dot={"r": 3}, is_animation_active=False),
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="label", tick_line=False, font_size=11, interval=1),
        rx.recharts.y_axis(tick_line=False, font_size=11, width=40, allow_decimals=False),
        rx.recharts.graphing_tooltip(), rx.recharts.legend(),
        data=B.points, width="100%", height=200)


def _summary() -> rx.Component:
    counts = B.scope_counts
    return rx.hstack(
        rx.heading(B.store, size="4", id="open-memory-store"),
        rx.badge(B.total_label, variant="soft", color_scheme="indigo", id="memory-total"),
        rx.badge(counts["users"], variant="soft", color_scheme="gray"),
        rx.badge(counts["agents"], variant="soft", color_scheme="gray"),
        rx.badge(counts["runs"], variant="soft", color_scheme="gray"),
        align="center", spacing="2", wrap="wrap")


def _controls() -> rx.Component:
    return rx.hstack(
        rx.segmented_control.root(
            rx.segmented_control.item("Users", value="user_id"),
            rx.segmented_control.item("Agents", value="agent_id"),
            rx.segmented_control.item("Runs", value="run_id"),
            value=B.scope_key, on_change=B.set_scope_key, id="scope-kind"),
        rx.select(B.value_choices, value=B.scope_value, on_change=B.set_scope_value, id="scope-value",
                  min_width="12em"),
        rx.form(
            rx.hstack(
                rx.input(value=B.query, on_change=B.set_query, placeholder="Search memories by meaning…",
                         name="query", id="memory-query", width="100%"),
                rx.button(rx.cond(B.searching, rx.spinner(size="2"), rx.icon("search", size=16)), "Search",
                          type="submit", disabled=B.searching, id="memory-search"),
                width="100%"),
            on_submit=B.search, flex="1", min_width="18em"),
        rx.cond(B.searched != "", rx.button(rx.icon("x", size=14), "Clear search", variant="soft",
                                            color_scheme="gray", on_click=B.clear_search, id="clear-search")),
        rx.cond(B.can_write & (B.forget_user != ""),
                rx.button(rx.icon("user_x", size=16), "Forget this user", color_scheme="red", variant="soft",
                          on_click=B.ask_forget(True), id="forget-user")),
        width="100%", align="center", spacing="3", wrap="wrap")


def _memory_row(row: MemoryRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(
            rx.text(row.text, size="2", class_name="memory-text"),
            rx.cond(row.metadata != "", rx.text(row.metadata, size="1", color_scheme="gray",
                                                font_family="var(--code-font-family)")),
            spacing="1"), max_width="520px"),
        rx.table.cell(rx.text(row.scope, size="1", white_space="nowrap")),
        rx.table.cell(rx.cond(B.searched != "",
                              rx.badge(row.score, variant="soft", color_scheme="indigo", class_name="memory-score"),
                              rx.text(row.updated, size="1", color_scheme="gray", white_space="nowrap"))),
        rx.table.cell(rx.hstack(
            rx.button(rx.icon("history", size=14), "History", size="1", variant="soft",
                      on_click=B.show_history(row.id), class_name="memory-history"),
            rx.cond(B.can_write, rx.fragment(
                rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft", color_scheme="gray",
                          on_click=B.start_edit(row.id), class_name="edit-memory"),
                rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                          on_click=B.ask_delete_memory(row.id), class_name="delete-memory"))),
            spacing="2", justify="end")),
        align="center",
        class_name="memory-row",
    )


def _memories() -> rx.Component:
    empty = rx.cond(B.searched != "", f"No memory of this scope matches “{B.searched}”.",
                    "No memories in this scope yet: clients add them at /v1/memory_stores/<name>/memories, "
                    "or by chatting with memory.")
    return rx.cond(
        B.listing & (B.memories.length() == 0),
        rx.hstack(rx.spinner(size="2"), rx.text("Loading memories…", size="2", color_scheme="gray"), padding="1em"),
        rx.cond(B.memories.length() == 0,
                rx.text(empty, size="2", color_scheme="gray", id="memories-empty", padding="0.5em"),
                rx.vstack(
                    data_table(HEADERS, rx.foreach(B.memories, _memory_row), "memories-table"),
                    rx.cond(B.has_more, rx.button(rx.cond(B.listing, rx.spinner(size="2"), rx.icon("chevrons_down")),
                                                  "Load more", variant="soft", on_click=B.load_memories(True),
                                                  id="memories-more")),
                    width="100%", spacing="2", align="center")))


def browser() -> rx.Component:
    """The open store: summary, activity chart, scope and search controls, memories."""
    return rx.vstack(
        _summary(),
        chart_card("Activity, last 14 days", "Memories added, updated and deleted per day (bars), and searches (line)",
                   _activity_chart()),
        _controls(),
        _memories(),
        width="100%", spacing="3", id="memory-browser")


def _event(e: EventRow) -> rx.Component:
    return rx.hstack(
        rx.badge(e.event, variant="soft", min_width="5.5em", justify="center",
                 color_scheme=rx.match(e.event, *EVENT_COLORS.items(), "gray")),
        rx.vstack(
            rx.cond(e.old != "", rx.text(e.old, size="2", color_scheme="gray", text_decoration="line-through",
                                         class_name="event-old")),
            rx.cond(e.new != "", rx.text(e.new, size="2", class_name="event-new")),
            rx.cond((e.old == "") & (e.new == ""), rx.text("text removed", size="2", color_scheme="gray",
                                                           font_style="italic")),
            rx.text(e.actor, " · ", e.at, size="1", color_scheme="gray", class_name="event-actor"),
            spacing="1", flex="1"),
        align="start", spacing="3", width="100%", padding="0.6em", border_bottom="1px solid var(--gray-4)",
        class_name="memory-event")


def _history_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("History"),
            rx.dialog.description(rx.code(B.history_id, size="1"), size="2"),
            rx.cond(B.history.length() == 0, rx.center(rx.spinner(size="3"), padding="2em"),
                    rx.scroll_area(rx.vstack(rx.foreach(B.history, _event), spacing="0", width="100%"),
                                   max_height="55vh", type="auto", id="memory-history-list")),
            rx.hstack(rx.button("Close", variant="soft", color_scheme="gray", on_click=B.show_history(""),
                                id="close-history"), justify="end", width="100%", margin_top="1em"),
            max_width="620px"),
        open=B.history_id != "",
        on_open_change=lambda _: B.show_history(""),
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit memory"),
            rx.dialog.description("The new text is embedded again; the history keeps the old one.", size="2"),
            rx.text_area(value=B.edit_text, on_change=B.set_edit_text, rows="4", width="100%", margin_top="1em",
                         id="edit-memory-text"),
            rx.cond(B.edit_error != "", rx.text(B.edit_error, size="1", color_scheme="red", class_name="field-error")),
            rx.hstack(rx.button("Cancel", variant="soft", color_scheme="gray", on_click=B.start_edit("")),
                      rx.button("Save", on_click=B.save_edit, id="save-memory"),
                      justify="end", spacing="3", width="100%", margin_top="1em"),
            max_width="520px"),
        open=B.edit_id != "",
        on_open_change=lambda _: B.start_edit(""),
    )


def browser_dialogs() -> list[rx.Component]:
    """The browser's dialogs (outside the page's conditional content)."""
    return [
        _history_dialog(),
        _edit_dialog(),
        confirm_dialog(B.delete_id != "", "Delete memory", f"Delete “{B.delete_text}”? Searches stop finding it; "
                       "its history keeps the text.", "Delete", B.confirm_delete_memory, B.ask_delete_memory("")),
        typed_confirm_dialog(B.forget_open, "Forget this user", B.forget_user, B.forget_typed, B.set_forget_typed,
                             B.confirm_forget, B.ask_forget(False),
                             "Every memory of this user in the store goes, with its vector; the history keeps only "
                             "that a deletion happened. This cannot be undone."),
    ]
