"""MongoDB repository of alert channels, rules, events and deliveries."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING

from gateway_app.db.mongo.documents import MongoRepository
from gateway_app.db.alert_repository_base import AlertRepositoryBase
from gateway_app.db.records import AlertChannelRecord, AlertDeliveryRecord, AlertEventRecord, AlertRuleRecord


class _Channels(MongoRepository[AlertChannelRecord]):
    collection_name, record, unique = "alert_channels", AlertChannelRecord, ("name",)
    json_fields = ("overrides",)  # template text keyed by event type


class _Rules(MongoRepository[AlertRuleRecord]):
    collection_name, record, unique = "alert_rules", AlertRuleRecord, ("name",)


class _Events(MongoRepository[AlertEventRecord]):
    collection_name, record = "alert_events", AlertEventRecord


class _Deliveries(MongoRepository[AlertDeliveryRecord]):
    collection_name, record = "alert_deliveries", AlertDeliveryRecord


NEWEST = [("at", DESCENDING), ("_id", DESCENDING)]


class MongoAlertRepository(AlertRepositoryBase):
    """One collection per kind, each by id (the generic repository), plus the lists the service needs."""

    def __init__(self, db, session) -> None:
        self._channels, self._rules = _Channels(db, session), _Rules(db, session)
        self._events, self._deliveries = _Events(db, session), _Deliveries(db, session)

    def list_channels(self) -> list[AlertChannelRecord]:
        return self._channels._find({}, [("name", ASCENDING)])

    def list_rules(self, enabled_only: bool = False) -> list[AlertRuleRecord]:
        return self._rules._find({"enabled": True} if enabled_only else {}, [("name", ASCENDING)])

    def list_events(self, rule_id: str | None = None, offset: int = 0, limit: int = 50) -> list[AlertEventRecord]:
        return self._events._find({"rule_id": rule_id} if rule_id else {}, NEWEST, offset, limit)

    def list_deliveries(
        self, event_id: str | None = None, channel_id: str | None = None, limit: int = 50
    ) -> list[AlertDeliveryRecord]:
        query = {key: value for key, value in (("event_id", event_id), ("channel_id", channel_id)) if value}
        return self._deliveries._find(query, NEWEST, 0, limit)
