"""The console shell: sidebar navigation, tenant switcher, user menu, page container."""

from __future__ import annotations

import reflex as rx

from components.widgets import brand
from state.session import SessionState

NAV = (
    ("Monitor", (("Overview", "/", "layout_dashboard", False), ("Usage", "/usage", "activity", False),
                 ("Traces", "/traces", "git_branch", False), ("Alerts", "/alerts", "bell", False),
                 ("Playground", "/playground", "message_square", False))),
    ("Configure", (("Providers", "/providers", "plug", False), ("Models", "/models", "boxes", False),
                   ("Prompts", "/prompts", "file_text", False), ("Guardrails", "/guardrails", "shield", False),
                   ("Vector stores", "/vector-stores", "library", False), ("RAG", "/rag", "book_open_check", False),
                   ("Memory", "/memory", "brain", False),
                   ("Projects", "/projects", "folder_kanban", False), ("API tokens", "/tokens", "key_round", False))),
    ("Administer", (("Users", "/users", "users", False), ("Tenants", "/tenants", "building_2", True))),
)


def _nav_item(label: str, href: str, icon: str) -> rx.Component:
    active = SessionState.nav_path == href
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="2", weight="medium"),
            *([rx.spacer(), rx.cond(SessionState.firing_alerts > 0,
                                    rx.badge(SessionState.firing_alerts, color_scheme="red", variant="solid",
                                             radius="full", id="firing-badge"))] if href == "/alerts" else []),
            align="center",
            spacing="3",
            padding_x="0.75em",
            padding_y="0.55em",
            border_radius="var(--radius-3)",
            width="100%",
            background=rx.cond(active, "var(--accent-4)", "transparent"),
            color=rx.cond(active, "var(--accent-12)", "var(--gray-11)"),
            _hover={"background": "var(--accent-3)", "color": "var(--accent-12)"},
        ),
        href=href,
        underline="none",
        width="100%",
    )


def _tenant_switcher() -> rx.Component:
    return rx.cond(
        SessionState.is_platform_admin,
        rx.vstack(
            rx.text("Tenant", size="1", color_scheme="gray", weight="medium"),
            rx.cond(
                SessionState.tenant_choices.length() > 0,
                rx.select(SessionState.tenant_choices, value=SessionState.selected_tenant,
                          on_change=SessionState.switch_tenant, width="100%", id="tenant-switcher"),
                rx.text("No tenants yet", size="2", color_scheme="gray"),
            ),
            spacing="1",
            width="100%",
        ),
        rx.vstack(
            rx.text("Tenant", size="1", color_scheme="gray", weight="medium"),
            rx.badge(SessionState.own_tenant, size="2", variant="soft"),
            spacing="1",
        ),
    )


def sidebar() -> rx.Component:
    """Left navigation with brand, tenant switcher, sections and the user block."""
    items = []
    for section, entries in NAV:
        items.append(rx.text(section.upper(), size="1", color_scheme="gray", weight="bold", padding_top="0.6em",
                             padding_x="0.75em", letter_spacing="0.06em"))
        items += [rx.cond(SessionState.is_platform_admin, _nav_item(label, href, icon)) if admin_only
                  else _nav_item(label, href, icon) for label, href, icon, admin_only in entries]
    return rx.vstack(
        rx.box(brand("5"), padding_bottom="0.5em"),
        _tenant_switcher(),
        rx.separator(),
        # The navigation scrolls on a short window; the user block and Log out stay in view.
        rx.vstack(*items, spacing="1", width="100%", flex="1", min_height="0", overflow_y="auto"),
        rx.separator(),
        rx.hstack(
            rx.avatar(fallback=SessionState.email[:2].upper(), size="2", radius="full"),
            rx.vstack(
                rx.text(SessionState.email, size="1", weight="medium", trim="both"),
                rx.text(SessionState.role_label, size="1", color_scheme="gray"),
                spacing="0",
                overflow="hidden",
            ),
            align="center",
            width="100%",
        ),
        rx.hstack(
            rx.color_mode.button(size="2", variant="ghost"),
            rx.spacer(),
            rx.button(rx.icon("log_out", size=16), "Log out", variant="soft", color_scheme="gray", size="2",
                      on_click=SessionState.logout, id="logout-button"),
            width="100%",
            align="center",
        ),
        width="250px",
        min_width="250px",
        height="100vh",
        overflow="hidden",
        padding="1.25em",
        spacing="4",
        position="sticky",
        top="0",
    )


def shell(*content: rx.Component) -> rx.Component:
    """Sidebar plus a centred content column; shown only once the session is confirmed."""
    return rx.cond(
        SessionState.role != "",
        rx.hstack(
            rx.box(sidebar(), align_self="stretch", border_right="1px solid var(--gray-4)",
                   background="var(--gray-1)"),
            rx.box(
                rx.vstack(*content, width="100%", max_width="1200px", spacing="4"),
                padding="2em",
                width="100%",
                min_height="100vh",
                background="var(--gray-2)",
            ),
            spacing="0",
            align="start",
            width="100%",
        ),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )
