"""The two writers with a write per request: usage records (with their hourly roll-ups) and tokens' last use.

They run in the gateway process or in the writer process (services/append_process.py), which
imports this module and little else: its imports are memory the writer process keeps.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway_app.core.batch_writer import BatchWriter
from gateway_app.core.spill import RecordCodec
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import BLOCKED_ERROR_TYPE, UsageRecord, UsageRollup
from gateway_app.services.tenant_access import dropping_missing

# Upper edges (ms) of the latency histogram kept per hourly roll-up; the last bucket is open.
LATENCY_EDGES_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


@dataclass(slots=True)
class TokenTouch:
    """A token was used at this time (written to last_used_at in batches)."""

    token_id: str
    at: datetime


def latency_bucket(latency_ms: float) -> int:
    """Index of the histogram bucket a latency falls in."""
    return bisect.bisect_left(LATENCY_EDGES_MS, latency_ms)


def rollups_of(records: Sequence[UsageRecord]) -> list[UsageRollup]:
    """Sum records per (hour, model, token, project)."""
    groups: dict[tuple, UsageRollup] = {}
    for record in records:
        hour = record.at.replace(minute=0, second=0, microsecond=0)
        key = (hour, record.model, record.token_id, record.project_id or "")
        rollup = groups.get(key)
        if rollup is None:
            rollup = groups[key] = UsageRollup(hour=hour, model=record.model, token_id=record.token_id,
                                               project_id=record.project_id or "",
                                               latency_buckets=[0] * (len(LATENCY_EDGES_MS) + 1))
        rollup.requests += 1
        if record.error_type == BLOCKED_ERROR_TYPE:
            rollup.blocked += 1  # an intended refusal, not a failure
        elif record.status >= 400:
            rollup.errors += 1
        rollup.prompt_tokens += record.prompt_tokens
        rollup.completion_tokens += record.completion_tokens
        rollup.cost_usd += record.cost_usd
        if record.error_type != BLOCKED_ERROR_TYPE:  # a block answers in a millisecond: not the models' latency
            rollup.latency_ms_sum += record.latency_ms
            rollup.latency_buckets[latency_bucket(record.latency_ms)] += 1
    return list(groups.values())


def usage_writer(store: DataStore, max_queue: int = 100_000, retry_for: float = 120.0) -> BatchWriter[UsageRecord]:
    """The usage writer."""
    def write(tenant: str, records: list[UsageRecord]) -> None:
        with dropping_missing(tenant):
            store.appends.usage(tenant, records, rollups_of(records))

    return BatchWriter("usage", write, codec=RecordCodec(UsageRecord), max_queue=max_queue, batch_size=1000,
                       interval=1.5, retry_for=retry_for)  # a row waits at most 1.5 s for its batch: lag < 2 s


def touch_writer(store: DataStore) -> BatchWriter[TokenTouch]:
    """The tokens' last-used writer."""
    def write(tenant: str, touches: list[TokenTouch]) -> None:
        latest = {t.token_id: t.at for t in touches}  # the last touch of each token wins
        with dropping_missing(tenant):
            store.appends.token_touches(tenant, list(latest.items()))

    return BatchWriter("token-last-used", write, codec=RecordCodec(TokenTouch), max_queue=10_000,
                       batch_size=500, interval=2.0)
