"""Prompts page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import confirm_dialog, data_table, empty_state, form_error, no_tenant, page_header
from state.prompts import PromptRow, PromptsState, VersionRow


def _row(row: PromptRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.name, on_click=PromptsState.open_prompt(row.name), cursor="pointer",
                              weight="medium")),
        rx.table.cell(rx.text(row.description, size="1", color_scheme="gray")),
        rx.table.cell(f"v{row.latest}"),
        rx.table.cell(rx.text(row.labels, size="1")),
        rx.table.cell(rx.text(row.updated, size="1", color_scheme="gray")),
        rx.table.cell(rx.cond(PromptsState.can_write,
                              rx.icon_button(rx.icon("trash_2", size=14), size="1", variant="soft", color_scheme="red",
                                             on_click=PromptsState.ask_delete(row.name), class_name="delete-prompt",
                                             aria_label=f"Delete {row.name}"))),
        align="center",
        background=rx.cond(PromptsState.selected == row.name, "var(--accent-2)", "transparent"),
    )


def _editor() -> rx.Component:
    errors = PromptsState.edit_errors
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(PromptsState.editor_new, "New prompt", f"New version of {PromptsState.edit_name}")),
            rx.dialog.description("Jinja2 templates, sandboxed: {{ variable }}, {% if %}, filters. Versions never "
                                  "change once saved.", size="2", margin_bottom="1em"),
            rx.vstack(
                rx.cond(PromptsState.editor_new, rx.vstack(
                    rx.text("Name", size="2", weight="medium"),
                    rx.input(value=PromptsState.edit_name, on_change=lambda v: PromptsState.set_field("name", v),
                             placeholder="support-answer", width="100%", id="prompt-name"),
                    rx.cond(errors["name"], rx.text(errors["name"], size="1", color_scheme="red",
                                                    class_name="field-error")),
                    spacing="1", width="100%")),
                rx.text("System message", size="2", weight="medium"),
                rx.text_area(value=PromptsState.edit_system, on_change=lambda v: PromptsState.set_field("system", v),
                             rows="3", width="100%", id="prompt-system"),
                rx.text("User message", size="2", weight="medium"),
                rx.text_area(value=PromptsState.edit_user, on_change=lambda v: PromptsState.set_field("user", v),
                             rows="4", width="100%", id="prompt-user", placeholder="Answer {{ question }} for {{ name }}."),
                rx.hstack(rx.text("Variables found:", size="1", color_scheme="gray"),
                          rx.foreach(PromptsState.detected_variables, lambda v: rx.badge(v, variant="soft")),
                          rx.cond(PromptsState.detected_variables.length() == 0,
                                  rx.text("none", size="1", color_scheme="gray")),
                          spacing="2", wrap="wrap", id="detected-variables"),
                rx.grid(
                    rx.vstack(rx.text("Suggested model", size="2", weight="medium"),
                              rx.input(value=PromptsState.edit_model,
                                       on_change=lambda v: PromptsState.set_field("model", v), width="100%"),
                              spacing="1", width="100%"),
                    rx.vstack(rx.text("Change note", size="2", weight="medium"),
                              rx.input(value=PromptsState.edit_message,
                                       on_change=lambda v: PromptsState.set_field("message", v), width="100%",
                                       id="prompt-message"),
                              spacing="1", width="100%"),
                    columns="2", spacing="2", width="100%"),
                form_error(errors),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(rx.cond(PromptsState.saving, rx.spinner(size="2"), rx.icon("save", size=16)), "Save",
                              on_click=PromptsState.save, disabled=PromptsState.saving, id="save-prompt"),
                    justify="end", spacing="3", width="100%"),
                spacing="2",
                width="100%",
            ),
            max_width="640px",
        ),
        open=PromptsState.editor_open,
        on_open_change=PromptsState.set_editor,
    )


def _version(row: VersionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(f"v{row.version}", weight="medium")),
        rx.table.cell(rx.hstack(rx.foreach(row.labels, lambda label: rx.badge(label, color_scheme="grass")),
                                spacing="1")),
        rx.table.cell(rx.text(row.message, size="1")),
        rx.table.cell(rx.text(row.author, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(row.created, size="1", color_scheme="gray")),
        align="center",
    )


def _detail() -> rx.Component:
    versions = data_table(["Version", "Labels", "Note", "Author", "Saved"],
                          rx.foreach(PromptsState.versions, _version), "versions-table")
    diff = rx.card(rx.vstack(
        rx.hstack(rx.text("Compare", weight="bold"),
                  rx.select(PromptsState.version_choices, value=PromptsState.diff_from,
                            on_change=lambda v: PromptsState.set_diff("from", v), size="1", id="diff-from"),
                  rx.text("→"),
                  rx.select(PromptsState.version_choices, value=PromptsState.diff_to,
                            on_change=lambda v: PromptsState.set_diff("to", v), size="1", id="diff-to"),
                  rx.button("Show diff", size="1", variant="soft", on_click=PromptsState.show_diff, id="show-diff"),
                  align="center", spacing="2"),
        rx.cond(PromptsState.diff_text != "",
                rx.code_block(PromptsState.diff_text, language="diff", width="100%", id="diff-view")),
        spacing="2", width="100%"), width="100%")
    labels = rx.card(rx.hstack(
        rx.text("Label", weight="bold"),
        rx.input(value=PromptsState.label_name, on_change=lambda v: PromptsState.set_label_field("name", v),
                 width="140px", size="1", id="label-name"),
        rx.text("→"),
        rx.select(PromptsState.version_choices, value=PromptsState.label_version,
                  on_change=lambda v: PromptsState.set_label_field("version", v), size="1", id="label-version"),
        rx.button("Move label", size="1", on_click=PromptsState.move_label, id="move-label",
                  disabled=~PromptsState.can_write),
        align="center", spacing="2"), width="100%")
    try_it = rx.card(rx.vstack(
        rx.text("Try it", weight="bold"),
        rx.foreach(PromptsState.try_variables, lambda name: rx.hstack(
            rx.text(name, size="2", width="120px"),
            rx.input(value=PromptsState.try_values[name], on_change=lambda v: PromptsState.set_try_value(name, v),
                     size="1", width="100%", class_name="try-variable"),
            width="100%", align="center")),
        rx.hstack(rx.button("Render", size="1", variant="soft", on_click=PromptsState.render, id="render-prompt"),
                  rx.button(rx.icon("message_square", size=14), "Run in playground", size="1",
                            on_click=PromptsState.run_in_playground, id="run-in-playground"),
                  spacing="2"),
        rx.cond(PromptsState.try_error != "", rx.callout(PromptsState.try_error, color_scheme="red", size="1",
                                                         icon="triangle_alert")),
        rx.foreach(PromptsState.rendered, lambda m: rx.box(
            rx.text(m["role"], size="1", weight="bold", color_scheme="gray"),
            rx.text(m["content"], size="2", white_space="pre-wrap"),
            padding="0.5em", border_radius="var(--radius-3)", background="var(--gray-3)", width="100%",
            class_name="rendered-message")),
        spacing="2", width="100%"), width="100%")
    return rx.vstack(
        rx.hstack(rx.heading(PromptsState.selected, size="5"), rx.spacer(),
                  rx.cond(PromptsState.can_write, rx.button(rx.icon("git_commit_horizontal", size=16), "New version",
                                                            on_click=PromptsState.new_version, id="new-version")),
                  width="100%", align="center"),
        versions, rx.grid(labels, try_it, columns="2", spacing="4", width="100%", align_items="start"), diff,
        width="100%", spacing="3",
    )


def prompts_page() -> rx.Component:
    """Prompts of the active tenant."""
    return shell(
        page_header("Prompts", f"Versioned templates rendered by the gateway · tenant {PromptsState.active_tenant}",
                    rx.cond(PromptsState.can_write & ~PromptsState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New prompt", on_click=PromptsState.new_prompt,
                                      id="new-prompt-button"))),
        rx.cond(
            PromptsState.tenant_missing,
            no_tenant(),
            rx.cond(
                ~PromptsState.loading & (PromptsState.rows.length() == 0),
                empty_state("file_text", "No prompts yet",
                            "Keep prompts here instead of in code: versioned, labelled, rendered per request."),
                rx.vstack(
                    data_table(["Name", "Description", "Latest", "Labels", "Updated", ""],
                               rx.foreach(PromptsState.rows, _row), "prompts-table"),
                    rx.cond(PromptsState.selected != "", _detail()),
                    width="100%", spacing="4"),
            ),
        ),
        _editor(),
        confirm_dialog(PromptsState.delete_name != "", "Delete prompt", PromptsState.delete_message, "Delete",
                       PromptsState.delete, PromptsState.cancel_delete),
    )
