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
                rx.heading(value, size="6", white_space="nowrap"),
                rx.text(hint, size="1", color_scheme="gray"),
                spacing="1",
            ),
            rx.spacer(),
            rx.box(rx.icon(icon, size=20), padding="0.5em", border_radius="var(--radius-3)",
                   background="var(--accent-3)", color="var(--accent-11)", flex_shrink="0"),
            align="start",
        ),
        width="100%",
        id="stat-" + label.lower().replace(" ", "-"),
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
               hint: str = "", required: bool = False, default_value: str = "",
               suggestions: rx.Var | None = None) -> rx.Component:
    """Label, input and the field's own error message under it; `suggestions` offers values to pick
    (searchable as you type, any other value still accepted)."""
    error = errors[name]
    extra = {"custom_attrs": {"list": f"{name}-choices"}} if suggestions is not None else {}
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(name=name, id=name, placeholder=placeholder, type=type_, required=required,
                 default_value=default_value, width="100%",
                 color_scheme=rx.cond(error, "red", "indigo"), **extra),
        rx.el.datalist(rx.foreach(suggestions, lambda value: rx.el.option(value=value)), id=f"{name}-choices")
        if suggestions is not None else rx.fragment(),
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
                   on_confirm, on_cancel, danger: bool = True, blocked: rx.Var | bool = False) -> rx.Component:
    """A modal asking to confirm a destructive action; `blocked`: the action cannot be done (button off)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(message, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", on_click=on_cancel)),
                rx.alert_dialog.action(rx.button(confirm_label, color_scheme="red" if danger else "indigo",
                                                 on_click=on_confirm, id="confirm-button", disabled=blocked)),
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


def data_table(headers: list[str], body: rx.Component, table_id: str) -> rx.Component:
    """A card holding a table with the given header row."""
    return rx.card(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(body),
            width="100%",
            variant="ghost",
            id=table_id,
        ),
        width="100%",
        overflow_x="auto",
    )


def pagination_bar(page: rx.Var, pages: rx.Var, total: rx.Var, on_prev, on_next) -> rx.Component:
    """'Page x of y' with previous / next buttons."""
    return rx.hstack(
        rx.text(rx.cond(total == 1, "1 request", f"{total} requests"), size="2", color_scheme="gray"),
        rx.spacer(),
        rx.button(rx.icon("chevron_left", size=16), "Previous", size="1", variant="soft", on_click=on_prev,
                  disabled=page <= 1, id="page-prev"),
        rx.text(f"Page {page} of {pages}", size="2", id="page-label"),
        rx.button("Next", rx.icon("chevron_right", size=16), size="1", variant="soft", on_click=on_next,
                  disabled=page >= pages, id="page-next"),
        align="center",
        width="100%",
        spacing="3",
    )


def chart_card(title: str, subtitle: str, chart: rx.Component) -> rx.Component:
    """A titled card around a chart."""
    return rx.card(
        rx.vstack(
            rx.text(title, size="3", weight="bold"),
            rx.text(subtitle, size="1", color_scheme="gray"),
            chart,
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def secret_reveal(secret: rx.Var, on_done, warning: str) -> rx.Component:
    """A secret shown once, with a copy button and a warning."""
    return rx.cond(
        secret != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("key_round")),
            rx.vstack(
                rx.text(warning, weight="bold", size="2"),
                rx.hstack(
                    rx.code(secret, id="secret-value", size="2", variant="outline", style={"word_break": "break_all"}),
                    rx.button(rx.icon("copy", size=14), "Copy", size="1", variant="soft",
                              on_click=[rx.set_clipboard(secret), rx.toast.info("Copied to the clipboard")],
                              id="copy-secret"),
                    rx.button("I have stored it", size="1", on_click=on_done, id="secret-done"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                spacing="2",
            ),
            color_scheme="amber",
            width="100%",
        ),
    )


def typed_confirm_dialog(open_: rx.Var, title: str, expected: rx.Var, typed: rx.Var, on_type, on_confirm,
                         on_cancel, consequence: str) -> rx.Component:
    """A destructive action that needs its target's name typed in first."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(consequence, size="2"),
            rx.text(f"Type {expected} to confirm.", size="2", margin_top="0.75em"),
            rx.input(value=typed, on_change=on_type, placeholder=expected, id="typed-confirm", margin_top="0.5em"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", on_click=on_cancel)),
                rx.button("Delete", color_scheme="red", on_click=on_confirm, disabled=typed != expected,
                          id="typed-confirm-button"),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="440px",
        ),
        open=open_,
    )


def select_field(label: str, name: str, options: rx.Var | list[str], errors: rx.Var, *, default_value: str = "",
                 hint: str = "") -> rx.Component:
    """A labelled select that submits with its form, with its error under it."""
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.select(options, name=name, default_value=default_value, width="100%"),
        rx.cond(errors[name], rx.text(errors[name], size="1", color_scheme="red", class_name="field-error"),
                rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def no_tenant(message: str = "Choose a tenant in the sidebar, or create one on the Tenants page.") -> rx.Component:
    """What tenant pages show to a platform admin with no tenant selected."""
    return empty_state("building_2", "No tenant selected", message,
                       rx.link(rx.button("Go to tenants", variant="soft"), href="/tenants"))
