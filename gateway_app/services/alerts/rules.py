"""Alert rules of a tenant (metric, thresholds, window, filters, channels) and their events: CRUD, acknowledge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import TenantUnitOfWork
from gateway_app.db.records import AlertDeliveryRecord, AlertEventRecord, AlertRuleRecord, utcnow
from gateway_app.core.invalidation import Generation
from gateway_app.services import audit
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess

RuleName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.%-]*$")]
Metric = Literal["error_rate", "latency_p95", "requests", "tokens", "cost", "guardrail_blocks", "no_traffic",
                 "budget_used_pct", "budget_projected_pct", "provider_down"]
Operator = Literal[">", ">=", "<", "<="]
FilterValue = Annotated[str, Field(min_length=1, max_length=200)]


# What the console's "New rule" starts from: (key, title, fields of RuleCreate). The title is the rule's name.
TEMPLATES: tuple[tuple[str, str, dict], ...] = (
    ("error_rate", "error rate above 5 % for 5 minutes",
     {"metric": "error_rate", "operator": ">", "critical": 0.05, "window_minutes": 5}),
    ("latency", "p95 latency above 2 s for 5 minutes",
     {"metric": "latency_p95", "operator": ">", "warning": 1000.0, "critical": 2000.0, "window_minutes": 5}),
    ("no_traffic", "no traffic for 30 minutes", {"metric": "no_traffic", "operator": "<", "critical": 1.0,
                                                 "window_minutes": 30}),
    ("provider_down", "a provider is down", {"metric": "provider_down", "operator": ">=", "critical": 1.0,
                                             "window_minutes": 5}),
    ("cost", "spend above 10 USD in an hour", {"metric": "cost", "operator": ">", "critical": 10.0,
                                               "window_minutes": 60}),
    ("guardrail_blocks", "more than 10 guardrail blocks in 15 minutes",
     {"metric": "guardrail_blocks", "operator": ">", "critical": 10.0, "window_minutes": 15}),
    ("budget", "budget 80 % used", {"metric": "budget_used_pct", "operator": ">=", "warning": 80.0,
                                    "critical": 100.0, "window_minutes": 60, "cooldown_minutes": 1440}),
)


class RuleFilters(BaseModel):
    """Which requests count: all of the tenant's, or those of one model, token or project."""

    model_config = ConfigDict(extra="forbid")

    model: FilterValue | None = None
    token_id: FilterValue | None = None
    project_id: FilterValue | None = None
    provider: FilterValue | None = Field(default=None, description="provider id or name (provider_down)")


class RuleCreate(BaseModel):
    """Input to create a rule: fires when `metric operator threshold` holds over the last window."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName
    metric: Metric
    operator: Operator = ">"
    warning: float | None = Field(default=None, ge=0, le=1e12)
    critical: float | None = Field(default=None, ge=0, le=1e12)
    threshold: float | None = Field(default=None, ge=0, le=1e12, description="shorthand for `critical`")
    window_minutes: int = Field(default=5, ge=1, le=1440)
    filters: RuleFilters = Field(default_factory=RuleFilters)
    channel_ids: list[str] = Field(default_factory=list, max_length=10)
    cooldown_minutes: int = Field(default=30, ge=0, le=10_080)
    notify_resolved: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _one_threshold(self) -> RuleCreate:
        if self.threshold is not None:
            if self.critical is not None:
                raise ValueError("give 'threshold' or 'critical', not both")
            self.critical, self.threshold = self.threshold, None
        if self.metric == "no_traffic":
            self.operator, self.critical = "<", 1  # fewer than one request in the window
        if self.metric == "provider_down" and self.warning is None and self.critical is None:
            self.operator, self.critical = ">=", 1  # one provider down
        if self.warning is None and self.critical is None:
            raise ValueError("a rule needs 'threshold' (or 'critical') or 'warning'")
        return self


class RuleUpdate(BaseModel):
    """Changes to a rule (send only what changes; null clears warning or critical)."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName | None = None
    operator: Operator | None = None
    warning: float | None = Field(default=None, ge=0, le=1e12)
    critical: float | None = Field(default=None, ge=0, le=1e12)
    window_minutes: int | None = Field(default=None, ge=1, le=1440)
    filters: RuleFilters | None = None
    channel_ids: list[str] | None = Field(default=None, max_length=10)
    cooldown_minutes: int | None = Field(default=None, ge=0, le=10_080)
    notify_resolved: bool | None = None
    enabled: bool | None = None


class RuleOut(BaseModel):
    """A rule and its current state."""

    id: str
    name: str
    metric: str
    operator: str
    warning: float | None
    critical: float | None
    window_minutes: int
    filters: dict
    channel_ids: list[str]
    cooldown_minutes: int
    notify_resolved: bool
    enabled: bool
    state: str
    last_value: float | None
    last_evaluated_at: datetime | None
    last_notified_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, r: AlertRuleRecord) -> RuleOut:
        """Build from a stored record."""
        return cls(id=r.id, name=r.name, metric=r.metric, operator=r.operator, warning=r.warning, critical=r.critical,
                   window_minutes=r.window_minutes, filters=r.filters, channel_ids=list(r.channel_ids),
                   cooldown_minutes=r.cooldown_minutes, notify_resolved=r.notify_resolved, enabled=r.enabled,
                   state=r.state, last_value=r.last_value, last_evaluated_at=r.last_evaluated_at,
                   last_notified_at=r.last_notified_at, created_at=r.created_at)


class EventOut(BaseModel):
    """A firing or resolved event."""

    id: str
    rule_id: str
    rule_name: str
    state: str
    severity: str
    value: float | None
    threshold: float | None
    at: datetime
    acknowledged_by: str
    acknowledged_at: datetime | None

    @classmethod
    def of(cls, e: AlertEventRecord) -> EventOut:
        """Build from a stored record."""
        return cls(id=e.id, rule_id=e.rule_id, rule_name=e.rule_name, state=e.state, severity=e.severity,
                   value=e.value, threshold=e.threshold, at=e.at, acknowledged_by=e.acknowledged_by,
                   acknowledged_at=e.acknowledged_at)


class DeliveryOut(BaseModel):
    """One notification of an event on one channel (the delivery log)."""

    id: str
    event_id: str
    channel_id: str
    channel_type: str
    ok: bool
    attempts: int
    status: int
    error: str
    at: datetime

    @classmethod
    def of(cls, d: AlertDeliveryRecord) -> DeliveryOut:
        """Build from a stored record."""
        return cls(id=d.id, event_id=d.event_id, channel_id=d.channel_id, channel_type=d.channel_type, ok=d.ok,
                   attempts=d.attempts, status=d.status, error=d.error, at=d.at)


def find_rule(uow: TenantUnitOfWork, ref: str) -> AlertRuleRecord:
    """A rule by id or name, or NotFound."""
    record = uow.alerts.get_rule(ref) or next((r for r in uow.alerts.list_rules() if r.name == ref), None)
    if record is None:
        raise NotFound(f"alert rule {ref!r} not found", param="rule")
    return record


def _unprocessable(message: str, param: str) -> InvalidInput:
    error = InvalidInput(message, param=param)
    error.status = 422  # names something the tenant does not have
    return error


def _check_channels(uow: TenantUnitOfWork, channel_ids: list[str]) -> None:
    known = {c.id for c in uow.alerts.list_channels()}
    unknown = [c for c in channel_ids if c not in known]
    if unknown:
        raise _unprocessable(f"alert channel {unknown[0]!r} not found", "channel_ids")
    if len(set(channel_ids)) != len(channel_ids):
        raise _unprocessable("'channel_ids' lists a channel twice", "channel_ids")


def rules_scope(slug: str) -> str:
    """The invalidation scope of a tenant's alert rules: the scheduler's "has no rules" is kept per tenant
    until it moves (its own scope, so a rule edit does not cost the tenant's cached tokens and models)."""
    return f"{slug}/alert-rules"


class RuleService:
    """Operators' CRUD of rules, the event history and acknowledgements."""

    def __init__(self, access: TenantAccess, generation: Generation | None = None) -> None:
        self._access = access
        self._generation = generation

    def _changed(self, uow: TenantUnitOfWork) -> None:
        if self._generation is not None:
            self._generation.notify(rules_scope(uow.tenant_slug))

    def list(self, actor: Principal, tenant: str | None) -> list[RuleOut]:
        """Rules by name."""
        with self._access.open(actor, tenant) as uow:
            return [RuleOut.of(r) for r in uow.alerts.list_rules()]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> RuleOut:
        """One rule by id or name."""
        with self._access.open(actor, tenant) as uow:
            return RuleOut.of(find_rule(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: RuleCreate) -> RuleOut:
        """Add a rule whose channels exist in the tenant."""
        actor.require_write()
        fields = data.model_dump(exclude={"threshold"})
        fields["filters"] = data.filters.model_dump(exclude_none=True)
        record = AlertRuleRecord(**fields)
        with self._access.open(actor, tenant) as uow:
            _check_channels(uow, record.channel_ids)
            try:
                uow.alerts.add_rule(record)
            except DuplicateKey:
                raise Conflict(f"alert rule {data.name!r} already exists", param="name") from None
            audit.record(uow, actor, "alert_rule.create", record.id, name=record.name, metric=record.metric)
            uow.commit()
            self._changed(uow)
        return RuleOut.of(record)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: RuleUpdate) -> RuleOut:
        """Change a rule; thresholds that change leave its state for the next evaluation to decide."""
        actor.require_write()
        nullable = {"warning", "critical"}
        changes = {k: getattr(data, k) for k in data.model_fields_set if getattr(data, k) is not None or k in nullable}
        if "filters" in changes:
            changes["filters"] = data.filters.model_dump(exclude_none=True)  # type: ignore[union-attr]
        with self._access.open(actor, tenant) as uow:
            current = find_rule(uow, ref)
            if "channel_ids" in changes:
                _check_channels(uow, changes["channel_ids"])
            warning, critical = changes.get("warning", current.warning), changes.get("critical", current.critical)
            if warning is None and critical is None:
                raise InvalidInput("a rule needs 'critical' or 'warning'", param="critical")
            try:
                record = uow.alerts.update_rule(current.id, changes) or current
            except DuplicateKey:
                raise Conflict(f"alert rule {changes.get('name')!r} already exists", param="name") from None
            audit.record(uow, actor, "alert_rule.update", record.id, fields=sorted(changes))
            uow.commit()
            self._changed(uow)
        return RuleOut.of(record)

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Remove a rule (its events stay in the history)."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            rule = find_rule(uow, ref)
            uow.alerts.delete_rule(rule.id)
            audit.record(uow, actor, "alert_rule.delete", rule.id, name=rule.name)
            uow.commit()
            self._changed(uow)

    def events(self, actor: Principal, tenant: str | None, rule: str | None = None, offset: int = 0,
               limit: int = 50) -> list[EventOut]:
        """Events, newest first (of one rule when named)."""
        with self._access.open(actor, tenant) as uow:
            rule_id = find_rule(uow, rule).id if rule else None
            return [EventOut.of(e) for e in uow.alerts.list_events(rule_id=rule_id, offset=offset, limit=limit)]

    def deliveries(self, actor: Principal, tenant: str | None, event_id: str | None = None,
                   channel_id: str | None = None, limit: int = 50) -> list[DeliveryOut]:
        """The delivery log, newest first (of one event or one channel when given)."""
        with self._access.open(actor, tenant) as uow:
            return [DeliveryOut.of(d) for d in uow.alerts.list_deliveries(event_id=event_id, channel_id=channel_id,
                                                                          limit=limit)]

    def acknowledge(self, actor: Principal, tenant: str | None, event_id: str) -> EventOut:
        """Mark an event as seen by this user."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            event = uow.alerts.get_event(event_id)
            if event is None:
                raise NotFound(f"alert event {event_id!r} not found", param="event")
            record = uow.alerts.update_event(event.id, {"acknowledged_by": actor.email, "acknowledged_at": utcnow()})
            uow.commit()
        return EventOut.of(record or event)
