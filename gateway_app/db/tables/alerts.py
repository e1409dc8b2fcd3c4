"""Tables of a tenant database for alerts: channels, rules, events and deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from gateway_app.db.tables.base import TenantTable, UtcDateTime, now_utc


class AlertChannel(TenantTable, table=True):
    """alert_channels: e-mail recipients or a webhook."""

    __tablename__ = "alert_channels"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    type: str = Field(max_length=20)
    recipients: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    url: str = Field(default="", max_length=2000)
    secret_enc: str = Field(default="", max_length=1000)
    overrides: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    daily_report: bool = Field(default=False)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class AlertRule(TenantTable, table=True):
    """alert_rules: a metric, thresholds, window, channels and the rule's current state."""

    __tablename__ = "alert_rules"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    metric: str = Field(max_length=40)
    operator: str = Field(default=">", max_length=2)
    warning: float | None = Field(default=None)
    critical: float | None = Field(default=None)
    window_minutes: int = Field(default=5)
    filters: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    channel_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cooldown_minutes: int = Field(default=30)
    notify_resolved: bool = Field(default=True)
    enabled: bool = Field(default=True)
    state: str = Field(default="ok", max_length=10)
    last_value: float | None = Field(default=None)
    last_evaluated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_notified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class AlertEvent(TenantTable, table=True):
    """alert_events: firing and resolved, with the value seen; acknowledged by a user."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_rule_at", "rule_id", "at"), Index("ix_alert_events_at", "at"))

    id: str = Field(primary_key=True, max_length=40)
    rule_id: str = Field(max_length=40)
    rule_name: str = Field(max_length=100)
    state: str = Field(max_length=10)
    severity: str = Field(max_length=10)
    value: float | None = Field(default=None)
    threshold: float | None = Field(default=None)
    acknowledged_by: str = Field(default="", max_length=320)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class AlertDelivery(TenantTable, table=True):
    """alert_deliveries: each notification of an event on a channel."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_event", "event_id"),
                      Index("ix_alert_deliveries_channel_at", "channel_id", "at"))

    id: str = Field(primary_key=True, max_length=40)
    event_id: str = Field(max_length=40)
    channel_id: str = Field(max_length=40)
    channel_type: str = Field(max_length=20)
    ok: bool = Field(default=False)
    attempts: int = Field(default=1)
    status: int = Field(default=0)
    error: str = Field(default="", max_length=1000)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
