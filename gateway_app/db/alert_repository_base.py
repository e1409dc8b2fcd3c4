"""What both backends' alert repositories share: each kind is a by-id repository; only the lists differ."""

from __future__ import annotations

from gateway_app.db.records import AlertChannelRecord, AlertDeliveryRecord, AlertEventRecord, AlertRuleRecord


class AlertRepositoryBase:
    """get / add / update / delete through the backend's generic repository of each kind (set by __init__)."""

    _channels, _rules, _events, _deliveries = None, None, None, None  # the backend's by-id repositories

    def get_channel(self, channel_id: str) -> AlertChannelRecord | None:
        return self._channels.get(channel_id)

    def add_channel(self, record: AlertChannelRecord) -> AlertChannelRecord:
        return self._channels.add(record)

    def update_channel(self, channel_id: str, changes: dict) -> AlertChannelRecord | None:
        return self._channels.update(channel_id, changes)

    def delete_channel(self, channel_id: str) -> bool:
        return self._channels.delete(channel_id)

    def get_rule(self, rule_id: str) -> AlertRuleRecord | None:
        return self._rules.get(rule_id)

    def add_rule(self, record: AlertRuleRecord) -> AlertRuleRecord:
        return self._rules.add(record)

    def update_rule(self, rule_id: str, changes: dict) -> AlertRuleRecord | None:
        return self._rules.update(rule_id, changes)

    def delete_rule(self, rule_id: str) -> bool:
        return self._rules.delete(rule_id)

    def add_event(self, record: AlertEventRecord) -> AlertEventRecord:
        return self._events.add(record)

    def get_event(self, event_id: str) -> AlertEventRecord | None:
        return self._events.get(event_id)

    def update_event(self, event_id: str, changes: dict) -> AlertEventRecord | None:
        return self._events.update(event_id, changes)

    def add_delivery(self, record: AlertDeliveryRecord) -> AlertDeliveryRecord:
        return self._deliveries.add(record)
