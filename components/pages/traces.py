"""Tracing viewer pages."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import data_table, empty_state, no_tenant, page_header, status_badge
from state.traces import EventRow, SessionRow, TraceDetailState, TracesState

TYPE_COLORS = (("llm", "indigo"), ("tool", "cyan"), ("retrieval", "grass"), ("guardrail", "amber"), "gray")


def _session_row(row: SessionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.name, href=f"/trace?session={row.id}&tenant={TracesState.active_tenant}",
                              weight="medium")),
        rx.table.cell(rx.text(row.user, size="1")),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.tags, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(row.started, size="1")),
        rx.table.cell(rx.text(row.duration, size="1")),
        rx.table.cell(row.events),
        rx.table.cell(rx.text(row.tokens, size="1")),
        rx.table.cell(rx.text(row.cost, size="1")),
        align="center",
    )


def traces_page() -> rx.Component:
    """Sessions of the active tenant."""
    filters = rx.hstack(
        rx.segmented_control.root(*[rx.segmented_control.item(label, value=value) for value, label in
                                    (("1h", "1 h"), ("24h", "24 h"), ("7d", "7 d"), ("30d", "30 d"), ("all", "all"))],
                                  value=TracesState.range,
                                  on_change=lambda v: TracesState.set_filter("range", v)),
        rx.input(placeholder="user", value=TracesState.user, on_change=lambda v: TracesState.set_filter("user", v),
                 width="130px"),
        rx.input(placeholder="tag", value=TracesState.tag, on_change=lambda v: TracesState.set_filter("tag", v),
                 width="110px"),
        rx.select(["all", "running", "completed", "error"], value=TracesState.status,
                  on_change=lambda v: TracesState.set_filter("status", v)),
        rx.input(rx.input.slot(rx.icon("search", size=14)), placeholder="name or id", value=TracesState.search,
                 on_change=lambda v: TracesState.set_filter("search", v).debounce(300), width="220px",
                 id="trace-search"),
        spacing="2", wrap="wrap", align="center", width="100%")
    return shell(
        page_header("Traces", f"Agent sessions and their steps · tenant {TracesState.active_tenant}"),
        rx.cond(
            TracesState.tenant_missing,
            no_tenant(),
            rx.vstack(
                filters,
                rx.cond(~TracesState.loading & (TracesState.rows.length() == 0),
                        empty_state("git_branch", "No sessions in this range",
                                    "Send events to /v1/tracing/sessions, or add an x-session-id header to chat "
                                    "requests: each call becomes an llm event."),
                        data_table(["Session", "User", "Status", "Tags", "Started", "Duration", "Events", "Tokens",
                                    "Cost"], rx.foreach(TracesState.rows, _session_row), "sessions-table")),
                rx.text(TracesState.total_label, size="1", color_scheme="gray"),
                width="100%", spacing="3"),
        ),
    )


def _payload(title: str, value: rx.Var) -> rx.Component:
    return rx.cond(value != "", rx.vstack(rx.text(title, size="1", weight="bold", color_scheme="gray"),
                                          rx.code_block(value, language="json", width="100%", wrap_long_lines=True),
                                          spacing="1", width="100%"))


def _event(row: EventRow) -> rx.Component:
    open_ = TraceDetailState.expanded == row.id
    return rx.vstack(
        rx.hstack(
            rx.hstack(
                rx.box(width=(row.depth * 18).to_string() + "px", flex_shrink="0"),
                rx.icon(rx.cond(open_, "chevron_down", "chevron_right"), size=14),
                rx.badge(row.type, color_scheme=rx.match(row.type, *TYPE_COLORS), variant="soft", size="1"),
                rx.text(row.name, size="2", weight="medium", trim="both"),
                rx.cond(row.status == "error", rx.badge("error", color_scheme="red", size="1")),
                rx.cond(row.orphan, rx.tooltip(rx.badge("orphan", color_scheme="gray", size="1"),
                                               content="its parent event was never received")),
                align="center", spacing="2", width="42%", overflow="hidden"),
            rx.box(rx.box(position="absolute", left=row.offset_pct.to_string() + "%",
                          width=row.width_pct.to_string() + "%", height="10px", top="5px",
                          border_radius="3px",
                          background=rx.cond(row.status == "error", "var(--red-9)",
                                             rx.match(row.type, ("llm", "var(--indigo-9)"), ("tool", "var(--cyan-9)"),
                                                      ("retrieval", "var(--grass-9)"), ("guardrail", "var(--amber-9)"),
                                                      "var(--gray-9)"))),
                   position="relative", height="20px", width="38%", background="var(--gray-3)",
                   border_radius="3px", class_name="waterfall"),
            rx.text(row.duration, size="1", width="8%", text_align="right"),
            rx.text(row.tokens, size="1", width="6%", text_align="right", color_scheme="gray"),
            rx.text(row.cost, size="1", width="8%", text_align="right", color_scheme="gray"),
            width="100%", align="center", spacing="2", cursor="pointer",
            on_click=TraceDetailState.toggle(row.id), class_name="event-row", padding_y="0.25em",
            _hover={"background": "var(--gray-2)"}),
        rx.cond(open_, rx.grid(_payload("Input", row.input), _payload("Output", row.output),
                               _payload("Metadata", row.metadata), columns="3", spacing="3", width="100%",
                               padding_left="2em", class_name="event-payloads")),
        width="100%", spacing="1")


def trace_page() -> rx.Component:
    """One session: tree, waterfall, payloads."""
    header = rx.card(rx.vstack(
        rx.hstack(rx.heading(TraceDetailState.name, size="5"), status_badge(TraceDetailState.status),
                  align="center", spacing="3"),
        rx.text(f"{TraceDetailState.started} · {TraceDetailState.duration} · user {TraceDetailState.user}", size="2",
                color_scheme="gray"),
        rx.text(TraceDetailState.totals, size="2", weight="medium", id="session-totals"),
        spacing="1"), width="100%")
    return shell(
        page_header("Trace", f"Session {TraceDetailState.session_id}",
                    rx.link(rx.button(rx.icon("arrow_left", size=14), "All sessions", variant="soft"),
                            href="/traces")),
        rx.cond(
            TraceDetailState.missing != "",
            empty_state("git_branch", "Session not found", TraceDetailState.missing),
            rx.vstack(header,
                      rx.card(rx.vstack(
                          rx.hstack(rx.text("Event", size="1", weight="bold", width="42%"),
                                    rx.text("Timeline", size="1", weight="bold", width="38%"),
                                    rx.text("Duration", size="1", weight="bold", width="8%", text_align="right"),
                                    rx.text("Tokens", size="1", weight="bold", width="6%", text_align="right"),
                                    rx.text("Cost", size="1", weight="bold", width="8%", text_align="right"),
                                    width="100%", spacing="2"),
                          rx.separator(),
                          rx.foreach(TraceDetailState.events, _event),
                          spacing="1", width="100%", id="event-tree"), width="100%"),
                      width="100%", spacing="3"),
        ),
    )
