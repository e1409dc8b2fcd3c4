"""SQLite repository of alert channels, rules, events and deliveries."""

from __future__ import annotations

from sqlmodel import Session, select

from gateway_app.db.alert_repository_base import AlertRepositoryBase
from gateway_app.db.records import AlertChannelRecord, AlertDeliveryRecord, AlertEventRecord, AlertRuleRecord
from gateway_app.db.sqlite.base_repository import SqlRepository, record_of
from gateway_app.db.tables.alerts import AlertChannel, AlertDelivery, AlertEvent, AlertRule


class _Channels(SqlRepository[AlertChannel, AlertChannelRecord]):
    table, record = AlertChannel, AlertChannelRecord


class _Rules(SqlRepository[AlertRule, AlertRuleRecord]):
    table, record = AlertRule, AlertRuleRecord


class _Events(SqlRepository[AlertEvent, AlertEventRecord]):
    table, record = AlertEvent, AlertEventRecord


class _Deliveries(SqlRepository[AlertDelivery, AlertDeliveryRecord]):
    table, record = AlertDelivery, AlertDeliveryRecord


class SqlAlertRepository(AlertRepositoryBase):
    """One table per kind, each by id (the generic repository), plus the lists the service needs."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._channels, self._rules = _Channels(session), _Rules(session)
        self._events, self._deliveries = _Events(session), _Deliveries(session)

    def list_channels(self) -> list[AlertChannelRecord]:
        rows = self._session.exec(select(AlertChannel).order_by(AlertChannel.name))
        return [record_of(AlertChannelRecord, row) for row in rows]

    def list_rules(self, enabled_only: bool = False) -> list[AlertRuleRecord]:
        query = select(AlertRule).order_by(AlertRule.name)
        if enabled_only:
            query = query.where(AlertRule.enabled.is_(True))
        return [record_of(AlertRuleRecord, row) for row in self._session.exec(query)]

    def list_events(self, rule_id: str | None = None, offset: int = 0, limit: int = 50) -> list[AlertEventRecord]:
        query = select(AlertEvent)
        if rule_id:
            query = query.where(AlertEvent.rule_id == rule_id)
        query = query.order_by(AlertEvent.at.desc(), AlertEvent.id.desc()).offset(offset).limit(limit)
        return [record_of(AlertEventRecord, row) for row in self._session.exec(query)]

    def list_deliveries(self, event_id: str | None = None, channel_id: str | None = None,
                        limit: int = 50) -> list[AlertDeliveryRecord]:
        query = select(AlertDelivery)
        if event_id:
            query = query.where(AlertDelivery.event_id == event_id)
        if channel_id:
            query = query.where(AlertDelivery.channel_id == channel_id)
        query = query.order_by(AlertDelivery.at.desc(), AlertDelivery.id.desc()).limit(limit)
        return [record_of(AlertDeliveryRecord, row) for row in self._session.exec(query)]
