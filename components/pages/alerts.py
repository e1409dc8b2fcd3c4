"""Alerts page: rules, channels, event history with the metric around each event."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import (
    confirm_dialog,
    data_table,
    empty_state,
    form_error,
    loading_rows,
    no_tenant,
    page_header,
    secret_reveal,
)
from state.alert_forms import METRIC_CHOICES
from state.alerts import EVENT_TYPES, TEMPLATE_CHOICES, AlertsState, ChannelRow, DeliveryRow, EventRow, RuleRow

STATE_COLORS = (("ok", "green"), ("warning", "amber"), ("critical", "red"), ("firing", "red"), ("resolved", "green"),
                "gray")


def _error(errors, name: str) -> rx.Component:
    return rx.cond(errors[name], rx.text(errors[name], size="1", color_scheme="red", class_name="field-error"))


def _labelled(label: str, control: rx.Component, errors=None, name: str = "", hint: rx.Var | str = "") -> rx.Component:
    below = _error(errors, name) if errors is not None else rx.fragment()
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, below,
                     rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")), spacing="1", width="100%")


def _rule_row(row: RuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.text(row.condition, size="2")),
        rx.table.cell(rx.badge(row.state, color_scheme=rx.match(row.state, *STATE_COLORS), variant="soft",
                               class_name="rule-state")),
        rx.table.cell(rx.text(row.value, size="2")),
        rx.table.cell(rx.text(row.channels, size="1", color_scheme="gray")),
        rx.table.cell(rx.switch(checked=row.enabled, size="1", disabled=~AlertsState.can_write,
                                on_change=lambda v: AlertsState.set_enabled(row.id, v))),
        rx.table.cell(rx.cond(AlertsState.can_write, rx.hstack(
            rx.icon_button(rx.icon("pencil", size=14), size="1", variant="soft", on_click=AlertsState.edit_rule(row.id),
                           aria_label="Edit rule"),
            rx.icon_button(rx.icon("trash_2", size=14), size="1", variant="soft", color_scheme="red",
                           on_click=AlertsState.ask_delete("rule", row.name), aria_label="Delete rule"),
            spacing="2"))),
        align="center", class_name="rule-row",
    )


def _channel_row(row: ChannelRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.badge(rx.cond(row.type == "email", "e-mail", "webhook"), variant="soft",
                               color_scheme=rx.cond(row.type == "email", "indigo", "cyan"))),
        rx.table.cell(rx.text(row.target, size="2", style={"word_break": "break_all"})),
        rx.table.cell(rx.cond(row.type == "email",
                              rx.switch(checked=row.daily_report, size="1", disabled=~AlertsState.can_write,
                                        on_change=lambda v: AlertsState.set_daily_report(row.name, v)),
                              rx.text("-", size="1", color_scheme="gray"))),
        rx.table.cell(rx.cond(AlertsState.can_write, rx.hstack(
            rx.button(rx.cond(AlertsState.testing == row.name, rx.spinner(size="1"), rx.icon("send", size=14)),
                      "Send test", size="1", variant="soft", disabled=AlertsState.testing != "",
                      on_click=AlertsState.send_test(row.name), class_name="send-test"),
            rx.cond(row.type == "email",
                    rx.button(rx.icon("mail", size=14), rx.cond(row.customised, "Template (custom)", "Template"),
                              size="1", variant="soft", color_scheme="gray",
                              on_click=AlertsState.edit_template(row.name))),
            rx.icon_button(rx.icon("trash_2", size=14), size="1", variant="soft", color_scheme="red",
                           on_click=AlertsState.ask_delete("channel", row.name), aria_label="Delete channel"),
            spacing="2"))),
        align="center", class_name="channel-row",
    )


def _event_row(row: EventRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.at, size="1")),
        rx.table.cell(row.rule),
        rx.table.cell(rx.badge(row.state, color_scheme=rx.match(row.state, *STATE_COLORS), variant="soft")),
        rx.table.cell(rx.badge(row.severity, color_scheme=rx.match(row.severity, *STATE_COLORS), variant="outline")),
        rx.table.cell(rx.text(row.value, " / ", row.threshold, size="2")),
        rx.table.cell(rx.cond(row.acknowledged != "", rx.text(row.acknowledged, size="1", color_scheme="gray"),
                              rx.cond(AlertsState.can_write & (row.state == "firing"),
                                      rx.button("Acknowledge", size="1", variant="soft",
                                                on_click=AlertsState.acknowledge(row.id))))),
        rx.table.cell(rx.button(rx.icon("chart_line", size=14), "Chart", size="1", variant="ghost",
                                on_click=AlertsState.show_event(row.id), class_name="show-event")),
        align="center", class_name="event-row",
    )


def _delivery(row: DeliveryRow) -> rx.Component:
    return rx.hstack(rx.icon(rx.cond(row.ok, "circle_check", "circle_x"), size=14,
                             color=rx.cond(row.ok, "var(--green-9)", "var(--red-9)")),
                     rx.text(row.channel, size="1", weight="medium"), rx.text(row.type, size="1", color_scheme="gray"),
                     rx.text(row.detail, " · ", rx.cond(row.attempts == 1, "1 attempt", f"{row.attempts} attempts"), size="1",
                             color_scheme="gray"),
                     align="center", spacing="2")


def _event_chart() -> rx.Component:
    lines = [rx.cond(AlertsState.series_critical != "", rx.recharts.reference_line(
                 y=AlertsState.series_critical, stroke="var(--red-9)", stroke_dasharray="4 4", label="critical")),
             rx.cond(AlertsState.series_warning != "", rx.recharts.reference_line(
                 y=AlertsState.series_warning, stroke="var(--amber-9)", stroke_dasharray="4 4", label="warning"))]
    return rx.cond(AlertsState.event_id != "", rx.card(rx.vstack(
        rx.hstack(rx.text(AlertsState.event_title, weight="bold"),
                  rx.text("the rule's metric, window by window, either side of the event (", AlertsState.series_unit, ")",
                          size="1", color_scheme="gray"),
                  rx.spacer(),
                  rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost", on_click=AlertsState.close_event,
                                 aria_label="Close chart"),
                  align="center", width="100%"),
        rx.recharts.line_chart(
            rx.recharts.line(data_key="value", name="value", stroke="var(--accent-9)", stroke_width=2.5, dot={"r": 3},
                             is_animation_active=False, connect_nulls=False),
            *lines,
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            rx.recharts.x_axis(data_key="at", tick_line=False, font_size=11),
            rx.recharts.y_axis(tick_line=False, font_size=11, width=56), rx.recharts.graphing_tooltip(),
            data=AlertsState.series, width="100%", height=200),
        rx.text("Notifications", size="2", weight="medium"),
        rx.cond(AlertsState.deliveries.length() == 0,
                rx.text("None sent for this event (no channel, or within the rule's cooldown).", size="1",
                        color_scheme="gray"),
                rx.vstack(rx.foreach(AlertsState.deliveries, _delivery), spacing="1", id="event-deliveries")),
        spacing="2", width="100%"), width="100%", id="event-chart"))


def _rule_editor() -> rx.Component:
    errors = AlertsState.rule_errors
    threshold = lambda name, label: _labelled(  # noqa: E731
        label, rx.input(width="100%", value=getattr(AlertsState, f"r_{name}"), id=f"rule-{name}",
                        on_change=lambda v: AlertsState.set_rule_field(name, v)), errors, name, AlertsState.metric_unit)
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(rx.cond(AlertsState.rule_id == "", "New alert rule", "Edit alert rule")),
        rx.dialog.description("Evaluated every minute over the window; notifies its channels when it fires and "
                              "when it resolves.", size="2", margin_bottom="1em"),
        rx.vstack(
            rx.cond(AlertsState.rule_id == "", _labelled("Start from", rx.select(
                TEMPLATE_CHOICES, value=AlertsState.r_template, on_change=AlertsState.pick_template, width="100%",
                id="rule-template"))),
            _labelled("Name", rx.input(width="100%", value=AlertsState.r_name, id="rule-name",
                                       on_change=lambda v: AlertsState.set_rule_field("name", v)), errors, "name"),
            rx.hstack(
                _labelled("Metric", rx.select(METRIC_CHOICES, value=AlertsState.r_metric, width="100%",
                                              disabled=AlertsState.rule_id != "", id="rule-metric",
                                              on_change=lambda v: AlertsState.set_rule_field("metric", v))),
                rx.cond(~AlertsState.threshold_fixed, _labelled("Fires when", rx.select(
                    [">", ">=", "<", "<="], value=AlertsState.r_operator,
                    on_change=lambda v: AlertsState.set_rule_field("operator", v)))),
                spacing="3", width="100%"),
            rx.cond(~AlertsState.threshold_fixed, rx.hstack(threshold("critical", "Critical at"),
                                                            threshold("warning", "Warning at"), spacing="3",
                                                            width="100%")),
            rx.hstack(
                _labelled("Window (minutes)", rx.input(width="100%", value=AlertsState.r_window, id="rule-window",
                                                       on_change=lambda v: AlertsState.set_rule_field("window", v)),
                          errors, "window_minutes"),
                _labelled("Re-notify after (minutes)", rx.input(width="100%",
                    value=AlertsState.r_cooldown, on_change=lambda v: AlertsState.set_rule_field("cooldown", v)),
                    errors, "cooldown_minutes"),
                spacing="3", width="100%"),
            _labelled("Requests of", rx.select.root(
                rx.select.trigger(width="100%"),
                rx.select.content(rx.select.item("any model", value="any model"),
                                  rx.foreach(AlertsState.model_names, lambda m: rx.select.item(m, value=m))),
                value=AlertsState.r_model, on_change=lambda v: AlertsState.set_rule_field("model", v))),
            _labelled("Notify", rx.cond(
                AlertsState.channel_names.length() == 0,
                rx.text("No channels yet: add an e-mail or webhook channel first (the rule still records events).",
                        size="1", color_scheme="gray"),
                rx.flex(rx.foreach(AlertsState.channel_names, lambda name: rx.checkbox(
                    name, checked=AlertsState.r_channels.contains(name), size="2",
                    on_change=lambda checked: AlertsState.toggle_rule_channel(name, checked))), wrap="wrap",
                    spacing="3", id="rule-channels"))),
            rx.checkbox("Notify when it resolves", checked=AlertsState.r_notify_resolved,
                        on_change=lambda v: AlertsState.set_rule_field("notify_resolved", v)),
            form_error(errors),
            rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                      rx.button(rx.icon("check", size=16), "Save rule", on_click=AlertsState.save_rule,
                                id="save-rule"), justify="end", spacing="3", width="100%"),
            spacing="3", width="100%"),
        max_width="560px", max_height="90vh", overflow_y="auto"),
        open=AlertsState.rule_open, on_open_change=AlertsState.set_rule_open)


def _channel_editor() -> rx.Component:
    errors = AlertsState.channel_errors
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("New channel"),
        rx.dialog.description("Where rules send their notifications. Webhooks are signed with HMAC-SHA256 "
                              "(X-Gatehouse-Signature).", size="2", margin_bottom="1em"),
        rx.vstack(
            _labelled("Name", rx.input(width="100%", value=AlertsState.c_name, id="channel-name",
                                       on_change=lambda v: AlertsState.set_channel_field("name", v)), errors, "name"),
            rx.segmented_control.root(rx.segmented_control.item("E-mail", value="email"),
                                      rx.segmented_control.item("Webhook", value="webhook"),
                                      value=AlertsState.c_type, id="channel-type",
                                      on_change=lambda v: AlertsState.set_channel_field("type", v)),
            rx.cond(AlertsState.c_type == "email",
                    _labelled("Send to", rx.input(width="100%", value=AlertsState.c_to, placeholder="ops@example.com, oncall@…",
                                                  id="channel-to",
                                                  on_change=lambda v: AlertsState.set_channel_field("to", v)),
                              errors, "to", "Comma-separated addresses"),
                    _labelled("URL", rx.input(width="100%", value=AlertsState.c_url, placeholder="https://hooks.example.com/…",
                                              id="channel-url",
                                              on_change=lambda v: AlertsState.set_channel_field("url", v)),
                              errors, "url", "A signing secret is generated and shown once.")),
            rx.cond(AlertsState.c_type == "email", rx.checkbox(
                "Also send the daily usage report (yesterday's requests, errors, tokens and cost, each morning)",
                checked=AlertsState.c_daily_report, id="channel-daily-report",
                on_change=lambda v: AlertsState.set_channel_field("daily_report", v))),
            form_error(errors),
            rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                      rx.button(rx.icon("check", size=16), "Create channel", on_click=AlertsState.save_channel,
                                id="save-channel"), justify="end", spacing="3", width="100%"),
            spacing="3", width="100%"),
        max_width="480px"),
        open=AlertsState.channel_open, on_open_change=AlertsState.set_channel_open)


def _template_editor() -> rx.Component:
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title("E-mail template · ", AlertsState.t_channel),
        rx.dialog.description("Jinja2, sandboxed. Empty fields use the built-in template. Values: rule, metric, "
                              "operator, threshold, value, severity, window_minutes, filters, tenant, at, console_url.",
                              size="2", margin_bottom="1em"),
        rx.vstack(
            rx.segmented_control.root(*[rx.segmented_control.item(t, value=t) for t in EVENT_TYPES],
                                      value=AlertsState.t_event, on_change=AlertsState.pick_event_type),
            _labelled("Subject", rx.input(width="100%", value=AlertsState.t_subject, placeholder="built-in subject",
                                          on_change=lambda v: AlertsState.set_template_field("subject", v))),
            _labelled("Body (text; the HTML part shows it escaped)", rx.text_area(
                value=AlertsState.t_body, rows="5", placeholder="built-in body", font_family="var(--code-font-family)",
                on_change=lambda v: AlertsState.set_template_field("body", v), width="100%")),
            rx.text("Preview with sample values", size="2", weight="medium"),
            rx.cond(AlertsState.preview_error != "",
                    rx.callout(AlertsState.preview_error, icon="triangle_alert", color_scheme="red", size="1"),
                    rx.box(rx.text(AlertsState.preview_subject, weight="bold", size="2"),
                           rx.text(AlertsState.preview_text, size="1", white_space="pre-wrap",
                                   font_family="var(--code-font-family)"),
                           padding="0.75em", border="1px solid var(--gray-5)", border_radius="var(--radius-3)",
                           width="100%", id="template-preview")),
            rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                      rx.button(rx.icon("save", size=16), "Save template", on_click=AlertsState.save_template,
                                disabled=AlertsState.preview_error != ""), justify="end", spacing="3", width="100%"),
            spacing="3", width="100%"),
        max_width="640px", max_height="90vh", overflow_y="auto"),
        open=AlertsState.template_open, on_open_change=AlertsState.set_template_open)


def _section(title: str, hint: str, *actions: rx.Component) -> rx.Component:
    return rx.hstack(rx.text(title, weight="bold", size="3"), rx.text(hint, size="1", color_scheme="gray"),
                     rx.spacer(), *actions, align="center", width="100%")


def _body() -> rx.Component:
    write = AlertsState.can_write
    return rx.vstack(
        rx.cond(AlertsState.firing > 0, rx.callout(
            rx.cond(AlertsState.firing == 1, "1 rule is firing", f"{AlertsState.firing} rules are firing"),
            icon="siren", color_scheme="red", width="100%", id="firing-callout")),
        secret_reveal(AlertsState.new_secret, AlertsState.secret_stored,
                      "The webhook's signing secret, shown only now: the receiver verifies X-Gatehouse-Signature "
                      "with it."),
        _section("Rules", "checked every minute", rx.cond(write, rx.button(
            rx.icon("plus", size=14), "New rule", size="1", on_click=AlertsState.new_rule, id="new-rule-button"))),
        rx.cond(AlertsState.loading & (AlertsState.rules.length() == 0),
                data_table(["Rule", "Condition", "State", "Last value", "Notifies", "On", ""], loading_rows(7),
                           "rules-table"),
                rx.cond(AlertsState.rules.length() == 0,
                        empty_state("bell", "No alert rules yet",
                                    "Start from a template: error rate above 5 % for 5 minutes, slow answers, no "
                                    "traffic, a provider down, spend or budget."),
                        data_table(["Rule", "Condition", "State", "Last value", "Notifies", "On", ""],
                                   rx.foreach(AlertsState.rules, _rule_row), "rules-table"))),
        _section("Channels", "e-mail over SMTP, signed webhooks", rx.cond(write, rx.button(
            rx.icon("plus", size=14), "New channel", size="1", variant="soft", on_click=AlertsState.new_channel,
            id="new-channel-button"))),
        rx.cond(AlertsState.channels.length() == 0,
                rx.text("No channels yet: rules record events but tell no one.", size="2", color_scheme="gray"),
                data_table(["Channel", "Type", "Sends to", "Daily report", ""], rx.foreach(AlertsState.channels, _channel_row),
                           "channels-table")),
        _section("Events", "the last 30, newest first"),
        _event_chart(),
        rx.cond(AlertsState.events.length() == 0,
                rx.text("No events yet: a rule makes one when it fires and when it resolves.", size="2",
                        color_scheme="gray"),
                data_table(["Time", "Rule", "State", "Severity", "Value / threshold", "Acknowledged", ""],
                           rx.foreach(AlertsState.events, _event_row), "events-table")),
        width="100%", spacing="3")


def alerts_page() -> rx.Component:
    """Alert rules, channels and events of the active tenant."""
    return shell(
        page_header("Alerts", f"Rules, channels and what fired · tenant {AlertsState.active_tenant}",
                    rx.cond(AlertsState.can_write & ~AlertsState.tenant_missing, rx.button(
                        rx.cond(AlertsState.evaluating, rx.spinner(size="2"), rx.icon("refresh_cw", size=16)),
                        "Evaluate now", variant="soft", on_click=AlertsState.evaluate,
                        disabled=AlertsState.evaluating, id="evaluate-button"))),
        rx.cond(AlertsState.tenant_missing, no_tenant(), _body()),
        _rule_editor(), _channel_editor(), _template_editor(),
        confirm_dialog(AlertsState.delete_kind != "", "Delete", AlertsState.delete_message, "Delete",
                       AlertsState.delete, AlertsState.cancel_delete),
    )
