"""Usage page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import data_table, empty_state, loading_rows, no_tenant, page_header, pagination_bar
from state.usage import RequestRow, UsageState

HEADERS = ["Time (UTC)", "Model", "Token", "Status", "Tokens in / out", "Cost", "Latency", "Request id"]


def _status(row: RequestRow) -> rx.Component:
    return rx.hstack(
        rx.cond(row.error_type == "guardrail_violation",
                rx.badge("blocked", variant="soft", color_scheme="amber"),
                rx.badge(row.status, variant="soft", color_scheme=rx.cond(row.status < 400, "green", "red"))),
        rx.cond((row.error_type != "") & (row.error_type != "guardrail_violation"),
                rx.text(row.error_type, size="1", color_scheme="gray")),
        rx.cond(row.stream, rx.badge("stream", variant="outline", size="1")),
        rx.cond(row.fallback, rx.badge("fallback", variant="outline", color_scheme="amber", size="1")),
        spacing="1",
        align="center",
    )


def _row(row: RequestRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="1")),
        rx.table.cell(rx.vstack(rx.text(row.model, size="2", weight="medium"),
                                rx.text(row.upstream_model, size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.text(row.token, size="1")),
        rx.table.cell(_status(row)),
        rx.table.cell(rx.text(row.tokens, size="1")),
        rx.table.cell(rx.text(row.cost, size="1")),
        rx.table.cell(rx.text(row.latency, size="1")),
        rx.table.cell(rx.code(row.request_id, size="1", variant="ghost")),
        align="center",
    )


def _filter(label: str, choices, value, on_change, element_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray", weight="medium"),
        rx.select(choices, value=value, on_change=on_change, size="2", id=element_id),
        spacing="1",
    )


def usage_page() -> rx.Component:
    """Recent requests of the active tenant."""
    filters = rx.hstack(
        _filter("Model", UsageState.model_choices, UsageState.model_filter, UsageState.set_model_filter,
                "filter-model"),
        _filter("Token", UsageState.token_choices, UsageState.token_filter, UsageState.set_token_filter,
                "filter-token"),
        _filter("Outcome", ["all", "ok", "error", "blocked"], UsageState.status_filter, UsageState.set_status_filter,
                "filter-status"),
        rx.spacer(),
        rx.button(rx.cond(UsageState.exporting, rx.spinner(size="2"), rx.icon("download", size=16)), "Export CSV",
                  variant="soft", on_click=UsageState.export_csv, disabled=UsageState.total == 0,
                  id="export-csv"),
        align="end",
        width="100%",
        spacing="4",
    )
    return shell(
        page_header("Usage", f"Every request through the gateway · tenant {UsageState.active_tenant}"),
        rx.cond(
            UsageState.tenant_missing,
            no_tenant(),
            rx.vstack(
                filters,
                rx.cond(
                    ~UsageState.loading & (UsageState.total == 0),
                    empty_state("activity", "No requests yet",
                                "Requests made with this tenant's API tokens, or from the playground, show up here."),
                    rx.vstack(
                        data_table(HEADERS, rx.cond(UsageState.loading & (UsageState.rows.length() == 0),
                                                    loading_rows(len(HEADERS)), rx.foreach(UsageState.rows, _row)),
                                   "usage-table"),
                        pagination_bar(UsageState.page, UsageState.pages, UsageState.total, UsageState.previous_page,
                                       UsageState.next_page),
                        width="100%",
                        spacing="3",
                    ),
                ),
                width="100%",
                spacing="4",
            ),
        ),
    )
