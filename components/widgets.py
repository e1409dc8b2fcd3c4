"""Reusable widgets: page header, stat card, empty state, status badge, form field, confirm dialog."""

from __future__ import annotations

import reflex as rx


def page_header(title: str, subtitle: rx.Var | str = "", *actions: rx.Component) -> rx.Component:
    """Title, one line of context and the page's main actions on the right."""
    return rx.hstack(
        rx.vstack(
            rx.heading(title, size="6", weight="bold"),
            rx.text(subtitle, size="2", color_scheme="gray"),
            spacing="1",
        ),
        rx.spacer(),
        *actions,
        align="center",
        width="100%",
        padding_bottom="1em",
    )


def stat_card(label: str, value: rx.Var, icon: str, hint: rx.Var | str = "") -> rx.Component:
    """A number with its label, for dashboards."""
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray", weight="medium"),
                rx.heading(value, size="7"),
                rx.text(hint, size="1", color_scheme="gray"),
                spacing="1",
            ),
            rx.spacer(),
            rx.box(rx.icon(icon, size=22), padding="0.6em", border_radius="var(--radius-3)",
                   background="var(--accent-3)", color="var(--accent-11)"),
            align="start",
        ),
        width="100%",
    )


def empty_state(icon: str, title: str, message: rx.Var | str, action: rx.Component | None = None) -> rx.Component:
    """What a page shows when there is nothing yet."""
    return rx.center(
        rx.vstack(
            rx.box(rx.icon(icon, size=28), padding="0.8em", border_radius="50%",
                   background="var(--gray-3)", color="var(--gray-11)"),
            rx.heading(title, size="4"),
            rx.text(message, size="2", color_scheme="gray", text_align="center", max_width="26em"),
            action if action is not None else rx.fragment(),
            align="center",
            spacing="3",
        ),
        padding="3em",
        width="100%",
        border="1px dashed var(--gray-6)",
        border_radius="var(--radius-4)",
    )


def status_badge(status: rx.Var) -> rx.Component:
    """Green for active, amber for suspended/deactivated, gray otherwise."""
    return rx.badge(
        status,
        color_scheme=rx.match(status, ("active", "green"), ("suspended", "amber"), ("deactivated", "amber"),
                              ("revoked", "red"), ("expired", "gray"), "gray"),
        variant="soft",
        radius="full",
    )


def form_field(label: str, name: str, errors: rx.Var, *, placeholder: str = "", type_: str = "text",
               hint: str = "", required: bool = False, default_value: str = "") -> rx.Component:
    """Label, input and the field's own error message under it."""
    error = errors[name]
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(name=name, id=name, placeholder=placeholder, type=type_, required=required,
                 default_value=default_value, width="100%",
                 color_scheme=rx.cond(error, "red", "indigo")),
        rx.cond(
            error,
            rx.text(error, size="1", color_scheme="red", class_name="field-error"),
            rx.text(hint, size="1", color_scheme="gray"),
        ),
        spacing="1",
        width="100%",
    )


def form_error(errors: rx.Var) -> rx.Component:
    """An error that belongs to no single field."""
    return rx.cond(
        errors["form"],
        rx.callout(errors["form"], icon="triangle_alert", color_scheme="red", size="1", width="100%"),
        rx.fragment(),
    )


def brand(size: str = "5") -> rx.Component:
    """The Gatehouse mark and name."""
    return rx.hstack(
        rx.box(rx.icon("shield_check", size=20), padding="0.4em", border_radius="var(--radius-3)",
               background="var(--accent-9)", color="white"),
        rx.heading("Gatehouse", size=size),
        align="center",
        spacing="2",
    )


def form_dialog(*, trigger: rx.Component, title: str, description: str, fields: list[rx.Component],
                errors: rx.Var, submitting: rx.Var, on_submit, open_: rx.Var, on_open_change,
                submit_id: str, submit_label: str = "Create") -> rx.Component:
    """A modal form: fields with their own errors, a form-level error, cancel and a busy submit."""
    return rx.dialog.root(
        rx.dialog.trigger(trigger),
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    *fields,
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(submitting, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  submit_label, type="submit", disabled=submitting, id=submit_id),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="460px",
        ),
        open=open_,
        on_open_change=on_open_change,
    )


def confirm_dialog(open_: rx.Var, title: str, message: rx.Var | str, confirm_label: rx.Var | str,
                   on_confirm, on_cancel, danger: bool = True) -> rx.Component:
    """A modal asking to confirm a destructive action."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(message, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", on_click=on_cancel)),
                rx.alert_dialog.action(rx.button(confirm_label, color_scheme="red" if danger else "indigo",
                                                 on_click=on_confirm, id="confirm-button")),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="420px",
        ),
        open=open_,
    )


def loading_rows(columns: int, rows: int = 3) -> rx.Component:
    """Skeleton rows while a table loads."""
    return rx.fragment(*[
        rx.table.row(*[rx.table.cell(rx.skeleton(rx.text("loading"), loading=True)) for _ in range(columns)])
        for _ in range(rows)
    ])
