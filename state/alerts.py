"""Alerts page: rules from templates, channels with "send test" and template preview, events with a chart."""

from __future__ import annotations

import dataclasses

import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import GatehouseError
from gateway_app.services.alerts.channels import ChannelCreate, ChannelUpdate, PreviewIn, TemplateOverride
from gateway_app.services.alerts.rules import TEMPLATES, RuleCreate, RuleUpdate
from state.alert_forms import (
    FIXED,
    condition,
    factor,
    metric_choice,
    metric_key,
    shown,
    stored,
    typed,
    unit,
)
from state.base import counted, failure, field_errors, in_thread, platform
from state.session import SessionState

TEMPLATE_CHOICES = [title for _, title, _ in TEMPLATES] + ["custom rule"]
EVENT_TYPES = ["firing", "resolved", "test"]


@dataclasses.dataclass
class RuleRow:
    """One rule as the table shows it."""

    id: str = ""
    name: str = ""
    condition: str = ""
    state: str = "ok"
    value: str = "-"
    channels: str = ""
    enabled: bool = True
    evaluated: str = "never"


@dataclasses.dataclass
class ChannelRow:
    """One channel."""

    id: str = ""
    name: str = ""
    type: str = ""
    target: str = ""
    customised: bool = False
    daily_report: bool = False


@dataclasses.dataclass
class EventRow:
    """One event of the history."""

    id: str = ""
    at: str = ""
    rule: str = ""
    state: str = ""
    severity: str = ""
    value: str = ""
    threshold: str = ""
    acknowledged: str = ""


@dataclasses.dataclass
class DeliveryRow:
    """One notification of the selected event."""

    channel: str = ""
    type: str = ""
    ok: bool = False
    attempts: int = 0
    detail: str = ""


class AlertsState(SessionState):
    """State of /alerts."""

    rules: list[RuleRow] = []
    channels: list[ChannelRow] = []
    events: list[EventRow] = []
    loading: bool = False
    evaluating: bool = False
    testing: str = ""  # the channel a test is being sent on
    # rule editor
    rule_open: bool = False
    rule_id: str = ""  # empty: a new rule
    r_template: str = TEMPLATE_CHOICES[0]
    r_name: str = ""
    r_metric: str = metric_choice("error_rate")
    r_operator: str = ">"
    r_warning: str = ""
    r_critical: str = ""
    r_window: str = "5"
    r_cooldown: str = "30"
    r_model: str = "any model"
    r_channels: list[str] = []
    r_notify_resolved: bool = True
    rule_errors: dict[str, str] = {}
    model_names: list[str] = []
    # channel editor
    channel_open: bool = False
    c_name: str = ""
    c_type: str = "email"
    c_to: str = ""
    c_url: str = ""
    c_daily_report: bool = False
    channel_errors: dict[str, str] = {}
    new_secret: str = ""
    # e-mail template of a channel
    template_open: bool = False
    t_channel: str = ""
    t_event: str = "firing"
    t_subject: str = ""
    t_body: str = ""
    t_overrides: dict[str, dict[str, str]] = {}
    preview_subject: str = ""
    preview_text: str = ""
    preview_error: str = ""
    # selected event
    event_id: str = ""
    event_title: str = ""
    series: list[dict] = []
    series_warning: str = ""  # reference lines on the chart ("" when the rule has none)
    series_critical: str = ""
    series_unit: str = ""
    deliveries: list[DeliveryRow] = []
    # deletion
    delete_kind: str = ""
    delete_name: str = ""

    @rx.var
    def firing(self) -> int:
        """Rules in warning or critical now."""
        return sum(1 for r in self.rules if r.enabled and r.state != "ok")

    @rx.var
    def channel_names(self) -> list[str]:
        """Channels a rule may notify."""
        return [c.name for c in self.channels]

    @rx.var
    def metric_unit(self) -> str:
        """Unit the thresholds of the edited rule are typed in."""
        return unit(metric_key(self.r_metric))

    @rx.var
    def threshold_fixed(self) -> bool:
        """The edited metric has an implied threshold."""
        return metric_key(self.r_metric) in FIXED

    @rx.event
    async def load(self):
        """Rules, channels, the last events and the tenant's models."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            rules = await self.tenant_call(services.alert_rules.list)
            channels = await self.tenant_call(services.alert_channels.list)
            events = await self.tenant_call(services.alert_rules.events, None, 0, 30)
            self.model_names = [m.name for m in await self.tenant_call(services.models.list)]
        except GatehouseError as exc:
            yield failure(exc)
            return
        finally:
            self.loading = False
        names = {c.id: c.name for c in channels}
        metric_of = {r.id: r.metric for r in rules}
        self.rules = [RuleRow(
            id=r.id, name=r.name, state=r.state, enabled=r.enabled,
            condition=condition(r.metric, r.operator, r.warning, r.critical, r.window_minutes)
            + (f" · model {r.filters['model']}" if r.filters.get("model") else ""),
            value=shown(r.metric, r.last_value), channels=", ".join(names.get(i, "?") for i in r.channel_ids) or "none",
            evaluated=r.last_evaluated_at.strftime("%m-%d %H:%M") if r.last_evaluated_at else "never",
        ) for r in rules]
        self.channels = [ChannelRow(id=c.id, name=c.name, type=c.type, customised=bool(c.overrides),
                                    daily_report=c.daily_report,
                                    target=", ".join(c.to) if c.type == "email" else c.url) for c in channels]
        self.events = [EventRow(
            id=e.id, at=e.at.strftime("%m-%d %H:%M:%S"), rule=e.rule_name, state=e.state, severity=e.severity,
            value=shown(metric_of.get(e.rule_id, ""), e.value), threshold=shown(metric_of.get(e.rule_id, ""), e.threshold),
            acknowledged=e.acknowledged_by or "",
        ) for e in events]
        self.firing_alerts = self.firing

    # -- rules ---------------------------------------------------------------------------------

    @rx.event
    def new_rule(self):
        """The rule editor, filled from the first template."""
        self.rule_open, self.rule_id, self.rule_errors = True, "", {}
        self.r_channels, self.r_model, self.r_notify_resolved, self.r_cooldown = [], "any model", True, "30"
        self.pick_template(TEMPLATE_CHOICES[0])

    @rx.event
    def pick_template(self, title: str):
        """Fill the editor from a template ("custom rule" keeps what is there, under no name)."""
        self.r_template = title
        fields = next((f for _, t, f in TEMPLATES if t == title), None)
        if fields is None:
            self.r_name = ""
            return
        metric = fields["metric"]
        self.r_name, self.r_metric, self.r_operator = title, metric_choice(metric), fields["operator"]
        self.r_warning, self.r_critical = typed(metric, fields.get("warning")), typed(metric, fields.get("critical"))
        self.r_window = str(fields["window_minutes"])
        self.r_cooldown = str(fields.get("cooldown_minutes", 30))

    @rx.event
    async def edit_rule(self, rule_id: str):
        """The editor filled with a rule."""
        try:
            rule = await self.tenant_call(platform().alert_rules.get, rule_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        names = {c.id: c.name for c in self.channels}
        self.rule_open, self.rule_id, self.rule_errors, self.r_template = True, rule.id, {}, "custom rule"
        self.r_name, self.r_metric, self.r_operator = rule.name, metric_choice(rule.metric), rule.operator
        self.r_warning, self.r_critical = typed(rule.metric, rule.warning), typed(rule.metric, rule.critical)
        self.r_window, self.r_cooldown = str(rule.window_minutes), str(rule.cooldown_minutes)
        self.r_model = rule.filters.get("model") or "any model"
        self.r_channels = [names[i] for i in rule.channel_ids if i in names]
        self.r_notify_resolved = rule.notify_resolved

    @rx.event
    def set_rule_open(self, value: bool):
        """Open or close the rule editor."""
        self.rule_open = value

    @rx.event
    def set_rule_field(self, name: str, value):
        """A field of the rule editor."""
        setattr(self, f"r_{name}", value)

    @rx.event
    def toggle_rule_channel(self, name: str, checked: bool):
        """Notify this channel, or stop."""
        chosen = [c for c in self.r_channels if c != name]
        self.r_channels = [*chosen, name] if checked else chosen

    def _rule_fields(self) -> dict | None:
        metric, errors = metric_key(self.r_metric), {}
        fields: dict = {"name": self.r_name.strip(), "operator": self.r_operator,
                        "notify_resolved": self.r_notify_resolved,
                        "filters": {"model": self.r_model} if self.r_model != "any model" else {},
                        "channel_ids": [c.id for c in self.channels if c.name in self.r_channels]}
        for key, text in (("warning", self.r_warning), ("critical", self.r_critical)):
            try:
                fields[key] = None if metric in FIXED and key == "warning" else stored(metric, text)
            except ValueError:
                errors[key] = "Enter a number of zero or more"
        for key, text in (("window_minutes", self.r_window), ("cooldown_minutes", self.r_cooldown)):
            if not text.strip().isdigit():
                errors[key] = "Enter whole minutes"
            else:
                fields[key] = int(text)
        if metric in FIXED:
            fields.pop("operator")
            fields["critical"] = fields.get("critical") or None
        if not errors and fields.get("warning") is None and fields.get("critical") is None and metric not in FIXED:
            errors["critical"] = "Give a critical or a warning threshold"
        self.rule_errors = errors
        return None if errors else {**fields, "metric": metric}

    @rx.event
    async def save_rule(self):
        """Create or change the rule, checked by the service's own schema."""
        fields = self._rule_fields()
        if fields is None:
            return
        try:
            if self.rule_id:
                fields.pop("metric")
                payload = RuleUpdate(**fields)
            else:
                payload = RuleCreate(**{k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            self.rule_errors = field_errors(exc)
            return
        try:
            service = platform().alert_rules
            saved = (await self.tenant_call(service.update, self.rule_id, payload) if self.rule_id
                     else await self.tenant_call(service.create, payload))
        except GatehouseError as exc:
            self.rule_errors = {exc.param if exc.param in ("name", "critical") else "form": exc.message}
            return
        self.rule_open = False
        yield rx.toast.success(f"Rule {saved.name} saved")
        yield AlertsState.load

    @rx.event
    async def set_enabled(self, rule_id: str, enabled: bool):
        """Pause or resume a rule."""
        try:
            await self.tenant_call(platform().alert_rules.update, rule_id, RuleUpdate(enabled=enabled))
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield AlertsState.load

    @rx.event
    async def evaluate(self):
        """Evaluate the tenant's rules now (the scheduler does it each minute)."""
        self.evaluating = True
        yield
        try:
            principal = await in_thread(self.principal)
            result = await platform().alerts.evaluate(principal, self.tenant_arg())
        except GatehouseError as exc:
            self.evaluating = False
            yield failure(exc)
            return
        self.evaluating = False
        changed = f", {counted(len(result.events), 'new event')}" if result.events else ", nothing changed"
        sent = f", {counted(result.notifications, 'notification')} sent" if result.notifications else ""
        yield rx.toast.info(f"{counted(result.evaluated, 'rule')} evaluated{changed}{sent}")
        yield AlertsState.load

    # -- channels ------------------------------------------------------------------------------

    @rx.event
    def new_channel(self):
        """The channel editor, empty."""
        self.channel_open, self.channel_errors = True, {}
        self.c_name, self.c_type, self.c_to, self.c_url, self.c_daily_report = "", "email", "", "", False

    @rx.event
    def set_channel_open(self, value: bool):
        """Open or close the channel editor."""
        self.channel_open = value

    @rx.event
    def set_channel_field(self, name: str, value: str | bool):
        """A field of the channel editor."""
        setattr(self, f"c_{name}", value)

    @rx.event
    async def save_channel(self):
        """Create the channel; a webhook's generated secret is shown once."""
        to = [a.strip() for a in self.c_to.replace(";", ",").replace("\n", ",").split(",") if a.strip()]
        try:
            payload = ChannelCreate(name=self.c_name.strip(), type=self.c_type, to=to if self.c_type == "email" else [],
                                    url=self.c_url.strip() or None if self.c_type == "webhook" else None,
                                    daily_report=self.c_daily_report and self.c_type == "email")
        except ValidationError as exc:
            errors = field_errors(exc)
            self.channel_errors = {("to" if self.c_type == "email" else "url") if k == "form" else k.split(".")[0]: v
                                   for k, v in errors.items()}
            return
        try:
            created = await self.tenant_call(platform().alert_channels.create, payload)
        except GatehouseError as exc:
            self.channel_errors = {exc.param if exc.param in ("name", "url", "to") else "form": exc.message}
            return
        self.channel_open, self.new_secret = False, created.secret or ""
        yield rx.toast.success(f"Channel {created.name} created")
        yield AlertsState.load

    @rx.event
    async def set_daily_report(self, name: str, value: bool):
        """Send this channel the daily usage report, or stop."""
        try:
            await self.tenant_call(platform().alert_channels.update, name, ChannelUpdate(daily_report=value))
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield AlertsState.load

    @rx.event
    def secret_stored(self):
        """Hide the webhook secret."""
        self.new_secret = ""

    @rx.event
    async def send_test(self, name: str):
        """Send a test notification on the channel and say how it went."""
        self.testing = name
        yield
        try:
            principal = await in_thread(self.principal)
            result = await platform().alert_channels.test(principal, self.tenant_arg(), name)
        except GatehouseError as exc:
            self.testing = ""
            yield failure(exc)
            return
        self.testing = ""
        if result.ok:
            yield rx.toast.success(f"Test sent on {name}")
        else:
            status = f" (HTTP {result.status})" if result.status else ""
            yield rx.toast.error(f"Test on {name} failed after {counted(result.attempts, 'attempt')}{status}: "
                                 f"{result.error}")

    # -- e-mail templates ----------------------------------------------------------------------

    @rx.event
    async def edit_template(self, name: str):
        """The e-mail template editor of a channel, with a preview."""
        try:
            channel = await self.tenant_call(platform().alert_channels.get, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.template_open, self.t_channel = True, channel.name
        self.t_overrides = {k: dict(v) for k, v in channel.overrides.items()}
        yield AlertsState.pick_event_type("firing")

    @rx.event
    async def pick_event_type(self, event_type: str | list[str]):
        """Edit the override of another event type."""
        event_type = event_type if isinstance(event_type, str) else (event_type or ["firing"])[0]
        self.t_event = event_type
        override = self.t_overrides.get(event_type, {})
        self.t_subject, self.t_body = override.get("subject", ""), override.get("body", "")
        await self._preview()

    @rx.event
    def set_template_open(self, value: bool):
        """Open or close the template editor."""
        self.template_open = value

    @rx.event
    async def set_template_field(self, name: str, value: str):
        """Subject or body; the preview follows."""
        setattr(self, f"t_{name}", value)
        self.t_overrides = {**self.t_overrides, self.t_event: {"subject": self.t_subject, "body": self.t_body}}
        await self._preview()

    async def _preview(self) -> None:
        try:
            principal = await in_thread(self.principal)
            shown_mail = platform().alert_channels.preview(
                principal, self.tenant_arg(), PreviewIn(event_type=self.t_event, subject=self.t_subject,
                                                        body=self.t_body), platform().settings.console_url)
        except (GatehouseError, ValidationError) as exc:
            self.preview_error = getattr(exc, "message", None) or "The template is too long"
            return
        self.preview_error, self.preview_subject, self.preview_text = "", shown_mail.subject, shown_mail.text

    @rx.event
    async def save_template(self):
        """Keep the overrides (an empty subject and body: the built-in template)."""
        overrides = {k: TemplateOverride(**v) for k, v in self.t_overrides.items() if v.get("subject") or v.get("body")}
        try:
            await self.tenant_call(platform().alert_channels.update, self.t_channel, ChannelUpdate(overrides=overrides))
        except GatehouseError as exc:
            self.preview_error = exc.message
            return
        self.template_open = False
        yield rx.toast.success(f"E-mail template of {self.t_channel} saved")
        yield AlertsState.load

    # -- events --------------------------------------------------------------------------------

    @rx.event
    async def show_event(self, event_id: str):
        """The selected event's rule measured around it, and where it was sent."""
        try:
            principal = await in_thread(self.principal)
            series = await platform().alerts.series(principal, self.tenant_arg(), event_id)
            log = await self.tenant_call(platform().alert_rules.deliveries, event_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        row = next((e for e in self.events if e.id == event_id), None)
        self.event_id, self.event_title = event_id, f"{row.rule} · {row.state} at {row.at}" if row else event_id
        scale = factor(series.metric)
        self.series_unit = unit(series.metric)
        self.series = [{"at": p.at.strftime("%H:%M"), "value": None if p.value is None else round(p.value * scale, 2)}
                       for p in series.points]
        self.series_warning = f"{series.warning * scale:g}" if series.warning is not None else ""
        self.series_critical = f"{series.critical * scale:g}" if series.critical is not None else ""
        names = {c.id: c.name for c in self.channels}
        self.deliveries = [DeliveryRow(channel=names.get(d.channel_id, d.channel_id), type=d.channel_type, ok=d.ok,
                                       attempts=d.attempts,
                                       detail=d.error or (f"HTTP {d.status}" if d.status else "delivered"))
                           for d in log]

    @rx.event
    def close_event(self):
        """Hide the event's chart."""
        self.event_id = ""

    @rx.event
    async def acknowledge(self, event_id: str):
        """Mark the event as seen by this user."""
        try:
            await self.tenant_call(platform().alert_rules.acknowledge, event_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield AlertsState.load

    # -- deletion ------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, kind: str, name: str):
        """Ask before deleting a rule or a channel."""
        self.delete_kind, self.delete_name = kind, name

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_kind = ""

    @rx.var
    def delete_message(self) -> str:
        """What deleting means."""
        if self.delete_kind == "rule":
            return f"Delete the rule {self.delete_name}? Its events stay in the history."
        return f"Delete the channel {self.delete_name}? Rules that notify it stop sending there."

    @rx.event
    async def delete(self):
        """Delete the chosen rule or channel."""
        kind, name, self.delete_kind = self.delete_kind, self.delete_name, ""
        service = platform().alert_rules if kind == "rule" else platform().alert_channels
        try:
            await self.tenant_call(service.delete, name)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"{kind.capitalize()} {name} deleted")
        yield AlertsState.load
