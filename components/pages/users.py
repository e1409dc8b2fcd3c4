"""Users page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    empty_state,
    form_dialog,
    form_field,
    loading_rows,
    page_header,
    status_badge,
)
from state.users import UserRow, UsersState


def _create_dialog() -> rx.Component:
    errors = UsersState.form_errors
    role = rx.vstack(
        rx.text("Role", size="2", weight="medium"),
        rx.select(["member", "admin"], name="role", default_value="member", width="100%"),
        rx.text("Members can look, admins can change things.", size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
    )
    return form_dialog(
        trigger=rx.button(rx.icon("user_plus", size=16), "New user", id="new-user-button"),
        title="New user",
        description="Leave the password empty to generate one; it is shown once.",
        fields=[
            form_field("E-mail", "email", errors, placeholder="jane@company.com", type_="email"),
            form_field("Name", "name", errors, placeholder="Jane Doe"),
            role,
            form_field("Password", "password", errors, type_="password", hint="At least 8 characters."),
        ],
        errors=errors, submitting=UsersState.creating, on_submit=UsersState.create,
        open_=UsersState.create_open, on_open_change=UsersState.open_create, submit_id="create-user-submit",
    )


def _row(row: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row.email, weight="medium"), rx.text(row.name, size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(
            rx.cond(
                UsersState.can_write,
                rx.select(["member", "admin"], value=row.role, size="1",
                          on_change=lambda role: UsersState.change_role(row.id, role)),
                rx.badge(row.role, variant="outline"),
            )
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.last_login, color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                UsersState.can_write,
                rx.cond(
                    row.status == "active",
                    rx.button("Deactivate", size="1", variant="soft", color_scheme="amber",
                              on_click=UsersState.ask_status(row.id, row.email, "deactivated")),
                    rx.button("Activate", size="1", variant="soft", color_scheme="green",
                              on_click=UsersState.ask_status(row.id, row.email, "active")),
                ),
            )
        ),
        align="center",
    )


def _password_notice() -> rx.Component:
    return rx.cond(
        UsersState.new_password != "",
        rx.callout(
            rx.hstack(
                rx.text("Generated password (shown once): "),
                rx.code(UsersState.new_password, id="generated-password"),
                rx.button(rx.icon("copy", size=14), size="1", variant="ghost",
                          on_click=rx.set_clipboard(UsersState.new_password)),
                rx.spacer(),
                rx.button("Done", size="1", variant="soft", on_click=UsersState.dismiss_password),
                align="center",
                width="100%",
            ),
            icon="key_round",
            color_scheme="amber",
            width="100%",
        ),
    )


def users_page() -> rx.Component:
    """Users of the active tenant."""
    headers = ("User", "Role", "Status", "Last login", "")
    table = rx.card(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.cond(UsersState.loading & (UsersState.rows.length() == 0),
                                  loading_rows(len(headers)), rx.foreach(UsersState.rows, _row))),
            width="100%",
            variant="ghost",
            id="users-table",
        ),
        width="100%",
    )
    return shell(
        page_header("Users", f"People who can sign in to tenant {UsersState.active_tenant}",
                    rx.cond(UsersState.can_write & (UsersState.error == ""), _create_dialog())),
        _password_notice(),
        rx.cond(
            UsersState.error != "",
            empty_state("building_2", "No tenant", UsersState.error),
            rx.cond(
                ~UsersState.loading & (UsersState.rows.length() == 0),
                empty_state("users", "No users yet", "Add the people who will run this tenant."),
                table,
            ),
        ),
        confirm_dialog(
            UsersState.confirm_id != "",
            "Change user status",
            rx.cond(UsersState.confirm_status == "deactivated",
                    f"Deactivate {UsersState.confirm_email}? Their session ends at once.",
                    f"Reactivate {UsersState.confirm_email}?"),
            rx.cond(UsersState.confirm_status == "deactivated", "Deactivate", "Activate"),
            UsersState.confirm, UsersState.cancel,
        ),
    )
