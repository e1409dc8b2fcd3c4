"""Projects page."""

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
from state.projects import ProjectRow, ProjectsState

HEADERS = ["Name", "Limits", "API tokens", "Guardrails", ""]


def _row(row: ProjectRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(row.name, weight="medium"),
                                rx.cond(row.description != "", rx.text(row.description, size="1", color_scheme="gray")),
                                spacing="0")),
        rx.table.cell(rx.text(row.limits, size="1")),
        rx.table.cell(rx.text(row.tokens, size="1")),
        rx.table.cell(rx.text(row.guardrails, size="1", color_scheme="gray")),
        rx.table.cell(rx.cond(ProjectsState.can_write, rx.hstack(
            rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft",
                      on_click=ProjectsState.open_edit(row.id), class_name="edit-project"),
            rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                      on_click=ProjectsState.ask_delete(row.id, row.name), class_name="delete-project"),
            spacing="2"))),
        align="center",
    )


def _dialog() -> rx.Component:
    errors, form = ProjectsState.form_errors, ProjectsState.form
    editing = ProjectsState.editing_id != ""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(editing, "Edit project", "New project")),
            rx.dialog.description("Tokens in a project share its limits (on top of their own) and its guardrails.",
                                  size="2", margin_bottom="1em"),
            rx.form(
                rx.vstack(
                    form_field("Name", "name", errors, placeholder="web-app", default_value=form["name"]),
                    form_field("Description", "description", errors, default_value=form["description"]),
                    rx.grid(
                        form_field("Requests / min", "rpm", errors, type_="number", placeholder="unlimited",
                                   default_value=form["rpm"]),
                        form_field("Tokens / min", "tpm", errors, type_="number", placeholder="unlimited",
                                   default_value=form["tpm"]),
                        form_field("Budget $ / month", "monthly_budget_usd", errors, type_="number",
                                   placeholder="unlimited", default_value=form["monthly_budget_usd"]),
                        columns="3", spacing="2", width="100%"),
                    form_error(errors),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button(rx.cond(ProjectsState.saving, rx.spinner(size="2"), rx.icon("check", size=16)),
                                  "Save", type="submit", disabled=ProjectsState.saving, id="save-project"),
                        justify="end", spacing="3", width="100%"),
                    spacing="3",
                ),
                on_submit=ProjectsState.save,
                reset_on_submit=False,
                key=ProjectsState.editing_id,
            ),
            max_width="500px",
        ),
        open=ProjectsState.dialog_open,
        on_open_change=ProjectsState.set_dialog,
    )


def projects_page() -> rx.Component:
    """Projects of the active tenant."""
    return shell(
        page_header("Projects", f"Tokens grouped under shared limits · tenant {ProjectsState.active_tenant}",
                    rx.cond(ProjectsState.can_write & ~ProjectsState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New project", on_click=ProjectsState.open_create,
                                      id="new-project-button"))),
        rx.cond(
            ProjectsState.tenant_missing,
            no_tenant(),
            rx.cond(
                ProjectsState.loading & (ProjectsState.rows.length() == 0),
                loading_rows(len(HEADERS)),
                rx.cond(ProjectsState.rows.length() == 0,
                        empty_state("folder_kanban", "No projects yet",
                                    "A project groups API tokens (a team, an app) under shared rate limits, a "
                                    "monthly budget and guardrails; usage can be read per project."),
                        data_table(HEADERS, rx.foreach(ProjectsState.rows, _row), "projects-table")),
            ),
        ),
        _dialog(),
        confirm_dialog(ProjectsState.delete_id != "", "Delete project", ProjectsState.delete_message, "Delete",
                       ProjectsState.delete, ProjectsState.cancel_delete, blocked=ProjectsState.delete_blocked),
    )
