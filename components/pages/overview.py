"""Overview page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import empty_state, page_header, stat_card, status_badge
from state.overview import OverviewState


def overview_page() -> rx.Component:
    """Counts for the platform and the active tenant."""
    tenant_block = rx.cond(
        OverviewState.tenant_name != "",
        rx.vstack(
            rx.hstack(
                rx.heading(OverviewState.tenant_name, size="4"),
                status_badge(OverviewState.tenant_status),
                rx.badge(OverviewState.tenant_plan, variant="outline"),
                align="center",
                spacing="2",
            ),
            rx.grid(
                stat_card("Users", OverviewState.user_count, "users", "console accounts of this tenant"),
                stat_card("API tokens", OverviewState.active_token_count, "key_round",
                          f"active, of {OverviewState.token_count} issued"),
                columns="3",
                spacing="4",
                width="100%",
            ),
            width="100%",
            spacing="3",
        ),
        rx.cond(
            OverviewState.loading,
            rx.skeleton(rx.box(height="6em"), loading=True, width="100%"),
            empty_state("building_2", "No tenant selected",
                        "Create a tenant on the Tenants page; its users and tokens show up here.",
                        rx.link(rx.button("Go to tenants"), href="/tenants")),
        ),
    )
    return shell(
        page_header("Overview", "The gateway at a glance"),
        rx.cond(
            OverviewState.is_platform_admin,
            rx.grid(stat_card("Tenants", OverviewState.tenant_count, "building_2", "on this gateway"),
                    columns="3", spacing="4", width="100%"),
        ),
        tenant_block,
    )
