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

from gateway_app.core.metrics import GatewayMetrics
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import BLOCKED_ERROR_TYPE, AlertChannelRecord, AlertEventRecord, AlertRuleRecord, precise_now
from gateway_app.services.alerts.channels import Notifier
from gateway_app.services.alerts.rules import EventOut
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

WINDOW_LIMIT = 50_000  # usage records read per rule and evaluation (the newest, when a window holds more)
RATIO_METRICS = {"error_rate", "latency_p95"}


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


def measure(uow: TenantUnitOfWork, rule: AlertRuleRecord, now: datetime) -> float | None:
    """The rule's metric over its window (None: no requests to judge a ratio or a latency by)."""
    f = rule.filters
    records = uow.usage.recent(model=f.get("model"), token_id=f.get("token_id"),
                               since=now - timedelta(minutes=rule.window_minutes), limit=WINDOW_LIMIT)
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
                 console_url: str = "") -> None:
        self._access, self._notifier, self._metrics = access, notifier, metrics
        self._console_url = console_url

    async def evaluate(self, actor: Principal, tenant: str | None) -> EvaluationOut:
        """Measure every enabled rule, record state changes as events, notify their channels."""
        slug = self._access.check(actor, tenant).slug
        now = precise_now()  # events of one second keep their order

        def judge() -> tuple[int, list[_Change], dict[str, AlertChannelRecord]]:
            with self._access.open(actor, tenant) as uow:
                rules = uow.alerts.list_rules(enabled_only=True)
                channels = {c.id: c for c in uow.alerts.list_channels() if c.enabled}
                found = []
                for rule in rules:
                    changes, change = decide(rule, measure(uow, rule, now), now)
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

        def keep() -> None:
            with self._access.open(actor, tenant) as uow:
                for delivery in deliveries:
                    uow.alerts.add_delivery(delivery)
                uow.commit()

        if deliveries:
            await anyio.to_thread.run_sync(keep)
        if self._metrics is not None:
            self._metrics.alert_evaluations.inc(count)
        failed = sum(1 for d in deliveries if not d.ok)
        return EvaluationOut(evaluated=count, events=[EventOut.of(c.event) for c in found],
                             notifications=len(deliveries) - failed, failed_notifications=failed)

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
