"""Evaluating a tenant's alert rules: the metric over the rule's window, state changes, events, notifications.

A rule is `ok`, `warning` or `critical`. Only a change makes an event: ok -> warning/critical fires
(notified unless the rule notified within its cooldown, so a flapping rule does not repeat itself),
warning -> critical fires again (escalations are always notified), back to ok resolves (notified
when `notify_resolved`). A window without requests leaves ratio and latency rules as they are
(no data is not a recovery); `no_traffic` is the rule for silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from pydantic import BaseModel

from gateway_app.core.errors import NotFound
from gateway_app.core.metrics import GatewayMetrics
from gateway_app.core.resilience import BreakerRegistry
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import (
    BLOCKED_ERROR_TYPE,
    AlertChannelRecord,
    AlertEventRecord,
    AlertRuleRecord,
    TenantRecord,
    precise_now,
)
from gateway_app.services.alerts.channels import Notifier, keep_deliveries
from gateway_app.services.alerts.rules import EventOut
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

WINDOW_LIMIT = 50_000  # usage records read per rule and evaluation (the newest, when a window holds more)
RATIO_METRICS = {"error_rate", "latency_p95"}


SERIES_POINTS = 13  # one window after another: six before the event, the event's own, six after


class SeriesPoint(BaseModel):
    """The rule's metric over its window ending at `at` (None: nothing to judge by)."""

    at: datetime
    value: float | None


class EventSeries(BaseModel):
    """The rule's metric around one event, for the console's chart."""

    event_id: str
    metric: str
    warning: float | None
    critical: float | None
    points: list[SeriesPoint]


class EvaluationOut(BaseModel):
    """What one evaluation of a tenant's rules did."""

    evaluated: int
    events: list[EventOut]
    notifications: int
    failed_notifications: int


@dataclass
class _Change:
    rule: AlertRuleRecord
    event: AlertEventRecord
    notify: bool


def measure(uow: TenantUnitOfWork, rule: AlertRuleRecord, now: datetime, tenant: TenantRecord | None = None,
            open_breakers: frozenset[str] = frozenset()) -> float | None:
    """The rule's metric over its window (None: no requests to judge a ratio or a latency by, or no budget)."""
    f = rule.filters
    since = now - timedelta(minutes=rule.window_minutes)
    if rule.metric in ("budget_used_pct", "budget_projected_pct"):
        return _budget(uow, rule, now, tenant)
    if rule.metric == "provider_down":
        return float(_providers_down(uow, f.get("provider"), since, open_breakers))
    records = uow.usage.recent(model=f.get("model"), token_id=f.get("token_id"), since=since, until=now,
                                limit=WINDOW_LIMIT)
    if f.get("project_id"):
        records = [r for r in records if r.project_id == f["project_id"]]
    answered = [r for r in records if r.error_type != BLOCKED_ERROR_TYPE]
    if rule.metric in ("requests", "no_traffic"):
        return float(len(records))
    if rule.metric == "guardrail_blocks":
        return float(len(records) - len(answered))
    if rule.metric == "tokens":
        return float(sum(r.prompt_tokens + r.completion_tokens for r in records))
    if rule.metric == "cost":
        return round(sum(r.cost_usd for r in records), 6)
    if not answered:
        return None
    if rule.metric == "error_rate":
        return round(sum(1 for r in answered if r.status >= 400) / len(answered), 4)
    latencies = sorted(r.latency_ms for r in answered)  # latency_p95, in milliseconds
    return round(latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)], 1)


def _budget(uow: TenantUnitOfWork, rule: AlertRuleRecord, now: datetime, tenant: TenantRecord | None) -> float | None:
    """Percent of the monthly budget spent (or, projected, spent by month end at this month's pace)."""
    f = rule.filters
    if f.get("token_id"):
        token = uow.api_tokens.get(f["token_id"])
        limits = token.limits if token else {}
    elif f.get("project_id"):
        project = uow.projects.get(f["project_id"])
        limits = project.limits if project else {}
    else:
        limits = tenant.limits if tenant else {}
    budget = limits.get("monthly_budget_usd")
    if not budget:
        return None
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = uow.usage.spend(start, token_id=f.get("token_id"), project_id=f.get("project_id"))
    used = spent / budget * 100
    if rule.metric == "budget_used_pct":
        return round(used, 2)
    month_end = (start + timedelta(days=32)).replace(day=1)
    elapsed = max((now - start).total_seconds(), 3600.0)  # the first hour's pace says little
    return round(used * (month_end - start).total_seconds() / elapsed, 2)


def _providers_down(uow: TenantUnitOfWork, provider: str | None, since: datetime, open_breakers: frozenset[str]) -> int:
    """Providers whose breaker is open in this process, or that failed at least 3 calls and half of them in the
    window (the usage rows of every process: the scheduler need not be where the traffic is)."""
    stats = uow.usage.provider_stats(since)
    down = 0
    for record in uow.providers.list():
        if provider and provider not in (record.id, record.name):
            continue
        requests, errors = stats.get(record.id, (0, 0))
        if record.id in open_breakers or (errors >= 3 and errors * 2 >= requests):
            down += 1
    return down


def add_budget_rules(uow: TenantUnitOfWork, percents: tuple[int, ...]) -> None:
    """A tenant with a monthly budget gets one rule per default percentage (disable them to opt out;
    a deleted one comes back)."""
    existing = {r.name for r in uow.alerts.list_rules()}
    for pct in percents:
        name = f"budget {pct} %"
        if name not in existing:
            uow.alerts.add_rule(AlertRuleRecord(name=name, metric="budget_used_pct", operator=">=",
                                                critical=float(pct) if pct >= 100 else None,
                                                warning=float(pct) if pct < 100 else None, window_minutes=60,
                                                cooldown_minutes=1440))


def breaches(operator: str, value: float, threshold: float | None) -> bool:
    """Whether `value operator threshold` holds."""
    if threshold is None:
        return False
    return {">": value > threshold, ">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[operator]


def severity_of(rule: AlertRuleRecord, value: float | None) -> str:
    """ok, warning or critical for a measured value (None keeps the rule's state)."""
    if value is None:
        return rule.state
    if breaches(rule.operator, value, rule.critical):
        return "critical"
    if breaches(rule.operator, value, rule.warning):
        return "warning"
    return "ok"


def decide(rule: AlertRuleRecord, value: float | None, now: datetime) -> tuple[dict, _Change | None]:
    """The rule's new fields and, when its state changed, the event and whether to notify."""
    new = severity_of(rule, value)
    changes: dict = {"last_value": value, "last_evaluated_at": now, "state": new}
    if new == rule.state:
        return changes, None
    threshold = rule.critical if new == "critical" or (new == "ok" and rule.state == "critical") else rule.warning
    if new == "ok":
        event = AlertEventRecord(rule_id=rule.id, rule_name=rule.name, state="resolved", severity=rule.state,
                                 value=value, threshold=threshold, at=now)
        return changes, _Change(rule, event, rule.notify_resolved)
    event = AlertEventRecord(rule_id=rule.id, rule_name=rule.name, state="firing", severity=new, value=value,
                             threshold=threshold, at=now)
    escalated = rule.state == "warning" and new == "critical"
    cooling = (rule.last_notified_at is not None
               and now - rule.last_notified_at < timedelta(minutes=rule.cooldown_minutes))
    notify = escalated or (rule.state == "ok" and not cooling)  # critical -> warning is recorded, not sent
    if notify:
        changes["last_notified_at"] = now
    return changes, _Change(rule, event, notify)


class AlertEvaluator:
    """Runs a tenant's enabled rules now: for POST /alerts/evaluate and the scheduler."""

    def __init__(self, access: TenantAccess, notifier: Notifier, metrics: GatewayMetrics | None = None,
                 console_url: str = "", breakers: BreakerRegistry | None = None,
                 budget_defaults: tuple[int, ...] = (50, 80, 100)) -> None:
        self._access, self._notifier, self._metrics, self._breakers = access, notifier, metrics, breakers
        self._budget_defaults = budget_defaults
        self._console_url = console_url

    async def evaluate(self, actor: Principal, tenant: str | None) -> EvaluationOut:
        """Measure every enabled rule, record state changes as events, notify their channels."""
        record = self._access.check(actor, tenant)
        slug = record.slug
        now = precise_now()  # events of one second keep their order
        open_breakers = frozenset(
            b.key.split(":", 1)[1] for b in (self._breakers.states(f"{slug}:") if self._breakers else ())
            if b.state == "open")

        def judge() -> tuple[int, list[_Change], dict[str, AlertChannelRecord]]:
            with self._access.open(actor, tenant) as uow:
                if record.limits.get("monthly_budget_usd") and self._budget_defaults:
                    add_budget_rules(uow, self._budget_defaults)
                rules = uow.alerts.list_rules(enabled_only=True)
                channels = {c.id: c for c in uow.alerts.list_channels() if c.enabled}
                found = []
                for rule in rules:
                    changes, change = decide(rule, measure(uow, rule, now, record, open_breakers), now)
                    uow.alerts.update_rule(rule.id, changes)
                    if change is not None:
                        uow.alerts.add_event(change.event)
                        found.append(change)
                uow.commit()
            return len(rules), found, channels

        count, found, channels = await anyio.to_thread.run_sync(judge)
        deliveries = []
        for change in found:
            if not change.notify:
                continue
            for channel_id in change.rule.channel_ids:
                channel = channels.get(channel_id)
                if channel is not None:
                    delivery = await self._notifier.send(channel, "resolved" if change.event.state == "resolved"
                                                         else "firing", self._values(slug, change),
                                                         self._payload(slug, change), event_id=change.event.id)
                    deliveries.append(delivery)
                    if self._metrics is not None:
                        self._metrics.notifications.labels(channel.type, "ok" if delivery.ok else "failed").inc()

        await keep_deliveries(self._access, actor, tenant, deliveries)
        if self._metrics is not None:
            self._metrics.alert_evaluations.inc(count)
        failed = sum(1 for d in deliveries if not d.ok)
        return EvaluationOut(evaluated=count, events=[EventOut.of(c.event) for c in found],
                             notifications=len(deliveries) - failed, failed_notifications=failed)

    async def series(self, actor: Principal, tenant: str | None, event_id: str) -> EventSeries:
        """The event's rule measured window after window around the event (up to now), from the stored usage."""
        record = self._access.check(actor, tenant)

        def build() -> EventSeries:
            with self._access.open(actor, tenant) as uow:
                event = uow.alerts.get_event(event_id)
                if event is None:
                    raise NotFound(f"alert event {event_id!r} not found", param="event")
                rule = uow.alerts.get_rule(event.rule_id)
                if rule is None:
                    raise NotFound("the rule of this event was deleted", param="event")
                now, half = precise_now(), SERIES_POINTS // 2
                step = timedelta(minutes=min(rule.window_minutes, 240))  # a day's window: a point every 4 hours
                times = [event.at + step * (i - half) for i in range(SERIES_POINTS)]
                points = [SeriesPoint(at=at, value=measure(uow, rule, at, record)) for at in times if at <= now]
            return EventSeries(event_id=event.id, metric=rule.metric, warning=rule.warning, critical=rule.critical,
                               points=points)

        return await anyio.to_thread.run_sync(build)

    def _values(self, slug: str, change: _Change) -> dict:
        rule, event = change.rule, change.event
        filters = ", ".join(f"{k}={v}" for k, v in sorted(rule.filters.items()))
        return {"tenant": slug, "rule": rule.name, "metric": rule.metric, "operator": rule.operator,
                "threshold": event.threshold, "value": event.value, "severity": event.severity,
                "window_minutes": rule.window_minutes, "at": event.at.isoformat(), "filters": filters,
                "console_url": self._console_url, "channel": ""}

    def _payload(self, slug: str, change: _Change) -> dict:
        rule, event = change.rule, change.event
        return {"type": f"alert.{event.state}", "tenant": slug,
                "rule": {"id": rule.id, "name": rule.name, "metric": rule.metric, "operator": rule.operator,
                         "warning": rule.warning, "critical": rule.critical, "window_minutes": rule.window_minutes,
                         "filters": rule.filters},
                "event": {"id": event.id, "state": event.state, "severity": event.severity, "value": event.value,
                          "threshold": event.threshold, "at": event.at.isoformat()}}
