"""Guardrails page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import confirm_dialog, data_table, empty_state, form_error, no_tenant, page_header
from state.guardrails import GuardrailsState, PolicyRow, Segment, VerdictRow
from state.rule_editor import ENTITIES

ACTION_COLORS = (("block", "red"), ("mask", "amber"), ("flag", "blue"), "green")


def _card(row: PolicyRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(row.name, size="4"),
                rx.badge(row.mode, color_scheme=rx.cond(row.mode == "shadow", "gray", "indigo"), variant="soft"),
                rx.cond(row.enabled, rx.fragment(), rx.badge("disabled", color_scheme="gray")),
                rx.spacer(),
                rx.button("Test", size="1", variant=rx.cond(GuardrailsState.selected == row.name, "solid", "soft"),
                          on_click=GuardrailsState.select(row.name)),
                rx.cond(GuardrailsState.can_write, rx.fragment(
                    rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft",
                              on_click=GuardrailsState.edit_policy(row.name)),
                    rx.button(rx.icon("trash_2", size=14), "Delete", size="1", variant="soft", color_scheme="red",
                              on_click=GuardrailsState.ask_delete(row.name), class_name="delete-policy"))),
                align="center", width="100%"),
            rx.text(row.rules, size="1", font_family="var(--code-font-family)"),
            rx.text("Attached to ", row.attached, size="1", color_scheme="gray"),
            spacing="2", width="100%"),
        width="100%",
    )


KIND_LABELS = (("pii", "Personal data"), ("regex", "Pattern"), ("keyword", "Keywords"), ("llm_judge", "Model judge"))
_TEXT_HELP = (("keyword", "One word or phrase per line."),
              ("regex", "RE2 syntax (linear time: no look-arounds or back-references)."),
              ("llm_judge", "What the judge model checks the text against."), "")


def _select(value, options: list[str], on_change, label: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.select(options, value=value, on_change=on_change, size="1"), spacing="0")


def _rule_card(card) -> rx.Component:
    index = card.index
    text_field = rx.cond(
        card.type == "regex",
        rx.input(value=card.text, on_change=lambda v: GuardrailsState.set_rule(index, "text", v), size="1",
                 width="100%", font_family="var(--code-font-family)", class_name="rule-text"),
        rx.text_area(value=card.text, on_change=lambda v: GuardrailsState.set_rule(index, "text", v), rows="3",
                     width="100%", size="1", class_name="rule-text"))
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Rule ", index + 1, size="2", weight="bold"),
                rx.badge(rx.match(card.type, *KIND_LABELS, card.type), variant="soft"),
                rx.spacer(),
                rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost", color_scheme="gray",
                               on_click=GuardrailsState.remove_rule(index), aria_label="Remove rule"),
                width="100%", align="center"),
            rx.hstack(
                _select(card.direction, ["input", "output", "both"],
                        lambda v: GuardrailsState.set_rule(index, "direction", v), "Checks"),
                _select(card.action, rx.cond(card.type == "llm_judge", ["block", "flag"], ["block", "mask", "flag"]),
                        lambda v: GuardrailsState.set_rule(index, "action", v), "Then"),
                rx.cond(card.type == "llm_judge", rx.vstack(
                    rx.text("Judge model", size="1", color_scheme="gray"),
                    rx.input(value=card.model, on_change=lambda v: GuardrailsState.set_rule(index, "model", v),
                             size="1"), spacing="0")),
                spacing="3", align="end"),
            rx.cond(card.type == "pii",
                    rx.flex(*[rx.checkbox(entity.replace("_", " "), checked=card.entities.contains(entity), size="1",
                                          on_change=lambda checked, e=entity: GuardrailsState.toggle_entity(
                                              index, e, checked)) for entity in ENTITIES],
                            wrap="wrap", spacing="3"),
                    rx.vstack(text_field, rx.text(rx.match(card.type, *_TEXT_HELP), size="1", color_scheme="gray"),
                              spacing="1", width="100%")),
            rx.cond(card.problem != "", rx.text(card.problem, size="1", color_scheme="red", class_name="rule-problem")),
            spacing="2", width="100%"),
        width="100%", size="1", class_name="rule-card")


def _rules_editor() -> rx.Component:
    return rx.vstack(
        rx.cond(GuardrailsState.rules_unreadable,
                rx.callout("The JSON below is not a list of rules; fix it or start again.", icon="triangle_alert",
                           color_scheme="amber", size="1"),
                rx.cond(GuardrailsState.rule_cards.length() > 0,
                        rx.vstack(rx.foreach(GuardrailsState.rule_cards, _rule_card), spacing="2", width="100%",
                                  id="rule-cards"),
                        rx.text("No rules yet: add keywords, a pattern, personal data or a model judge above.",
                                size="2", color_scheme="gray", id="no-rules"))),
        rx.button(rx.cond(GuardrailsState.show_json, "Hide JSON", "Edit as JSON"), size="1", variant="ghost",
                  on_click=GuardrailsState.toggle_json, id="toggle-json"),
        rx.cond(GuardrailsState.show_json | GuardrailsState.rules_unreadable,
                rx.text_area(value=GuardrailsState.edit_rules,
                             on_change=lambda v: GuardrailsState.set_field("rules", v), rows="10", width="100%",
                             font_family="var(--code-font-family)", id="policy-rules")),
        spacing="2", width="100%")


def _checks(title: str, kind: str, options, chosen) -> rx.Component:
    return rx.vstack(
        rx.text(title, size="2", weight="medium"),
        rx.cond(options.length() == 0, rx.text("none yet", size="1", color_scheme="gray"),
                rx.flex(rx.foreach(options, lambda value: rx.checkbox(
                    value, checked=chosen.contains(value), size="1",
                    on_change=lambda checked: GuardrailsState.toggle(kind, value, checked))), wrap="wrap", spacing="3")),
        spacing="1", width="100%")


def _editor() -> rx.Component:
    errors = GuardrailsState.edit_errors
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(GuardrailsState.editor_new, "New guardrail policy",
                                    f"Edit {GuardrailsState.edit_name}")),
            rx.dialog.description("Rules run in order on input, output or both. Shadow mode records verdicts and "
                                  "never acts.", size="2", margin_bottom="1em"),
            rx.vstack(
                rx.hstack(
                    rx.cond(GuardrailsState.editor_new,
                            rx.input(value=GuardrailsState.edit_name, placeholder="policy name",
                                     on_change=lambda v: GuardrailsState.set_field("name", v), id="policy-name")),
                    rx.select(["enforce", "shadow"], value=GuardrailsState.edit_mode,
                              on_change=lambda v: GuardrailsState.set_field("mode", v), id="policy-mode"),
                    spacing="2", width="100%"),
                rx.cond(errors["name"], rx.text(errors["name"], size="1", color_scheme="red", class_name="field-error")),
                rx.hstack(rx.text("Add a rule:", size="1", color_scheme="gray"),
                          *[rx.button(label, size="1", variant="soft", on_click=GuardrailsState.add_rule(kind),
                                      id=f"add-{kind}") for kind, label in KIND_LABELS],
                          spacing="2", align="center"),
                _rules_editor(),
                rx.cond(errors["rules"], rx.text(errors["rules"], size="1", color_scheme="red", class_name="field-error")),
                _checks("Models", "models", GuardrailsState.model_names, GuardrailsState.attach_models),
                _checks("API tokens", "tokens", GuardrailsState.token_choices, GuardrailsState.attach_tokens),
                _checks("Projects", "projects", GuardrailsState.project_names, GuardrailsState.attach_projects),
                form_error(errors),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(rx.cond(GuardrailsState.saving, rx.spinner(size="2"), rx.icon("save", size=16)), "Save",
                              on_click=GuardrailsState.save, disabled=GuardrailsState.saving, id="save-policy"),
                    justify="end", spacing="3", width="100%"),
                spacing="2", width="100%"),
            max_width="680px",
            max_height="90vh",
            overflow_y="auto",  # long policies scroll inside the dialog; Save stays reachable
        ),
        open=GuardrailsState.editor_open,
        on_open_change=GuardrailsState.set_editor,
    )


def _segment(segment: Segment) -> rx.Component:
    return rx.cond(segment.hit,
                   rx.el.mark(segment.text, title=segment.label, class_name="match",
                              style={"background": "var(--amber-5)", "border_radius": "3px", "padding": "0 2px"}),
                   rx.el.span(segment.text))


def _test_box() -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text("Live test", weight="bold"),
                  rx.text(rx.cond(GuardrailsState.selected != "", f"policy {GuardrailsState.selected}",
                                  "pick a policy with its Test button"), size="1", color_scheme="gray"),
                  rx.spacer(),
                  rx.select(["input", "output"], value=GuardrailsState.test_direction,
                            on_change=GuardrailsState.set_test_direction, size="1"),
                  rx.button("Run", size="1", on_click=GuardrailsState.run_test, id="run-test"),
                  align="center", width="100%"),
        rx.text_area(value=GuardrailsState.test_text, on_change=GuardrailsState.set_test_text, rows="4", width="100%",
                     placeholder="Paste a text to check", id="test-text"),
        rx.cond(GuardrailsState.test_action != "", rx.vstack(
            rx.hstack(rx.text("Verdict", size="2"),
                      rx.badge(GuardrailsState.test_action, size="2", id="test-verdict",
                               color_scheme=rx.match(GuardrailsState.test_action, *ACTION_COLORS)),
                      align="center"),
            rx.box(rx.foreach(GuardrailsState.segments, _segment), white_space="pre-wrap", padding="0.6em",
                   border="1px solid var(--gray-5)", border_radius="var(--radius-3)", width="100%", id="highlighted"),
            rx.cond(GuardrailsState.test_output != GuardrailsState.test_text,
                    rx.text("Masked: ", rx.code(GuardrailsState.test_output), size="1")),
            spacing="2", width="100%")),
        spacing="2", width="100%"), width="100%")


def _verdict(row: VerdictRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="1")),
        rx.table.cell(row.policy),
        rx.table.cell(rx.badge(row.action, color_scheme=rx.match(row.action, *ACTION_COLORS))),
        rx.table.cell(rx.text(row.direction, size="1")),
        rx.table.cell(rx.text(row.mode, size="1")),
        rx.table.cell(rx.text(row.rules, size="1")),
        rx.table.cell(rx.text(row.model, size="1")),
        align="center",
    )


def guardrails_page() -> rx.Component:
    """Policies of the active tenant."""
    return shell(
        page_header("Guardrails", f"Checks on what goes in and out · tenant {GuardrailsState.active_tenant}",
                    rx.cond(GuardrailsState.can_write & ~GuardrailsState.tenant_missing,
                            rx.button(rx.icon("plus", size=16), "New policy", on_click=GuardrailsState.new_policy,
                                      id="new-policy-button"))),
        rx.cond(
            GuardrailsState.tenant_missing,
            no_tenant(),
            rx.vstack(
                rx.cond(~GuardrailsState.loading & (GuardrailsState.rows.length() == 0),
                        empty_state("shield", "No guardrail policies yet",
                                    "Block, mask or flag PII, secrets, keywords or patterns - or let a model judge - "
                                    "on requests and answers, streams included."),
                        rx.grid(rx.foreach(GuardrailsState.rows, _card), columns="2", spacing="3", width="100%",
                                id="policies-list")),
                _test_box(),
                rx.text("Recent verdicts", weight="bold"),
                rx.cond(GuardrailsState.verdicts.length() == 0,
                        rx.text("No verdicts recorded yet.", size="2", color_scheme="gray"),
                        data_table(["Time", "Policy", "Action", "Direction", "Mode", "Rules", "Model"],
                                   rx.foreach(GuardrailsState.verdicts, _verdict), "verdicts-table")),
                width="100%", spacing="4"),
        ),
        _editor(),
        confirm_dialog(GuardrailsState.delete_name != "", "Delete policy", GuardrailsState.delete_message, "Delete",
                       GuardrailsState.delete, GuardrailsState.cancel_delete, blocked=GuardrailsState.delete_blocked),
    )
