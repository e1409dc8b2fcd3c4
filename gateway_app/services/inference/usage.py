"""Usage: one record per request, queued on the hot path, written in batches with hourly roll-ups."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from itertools import zip_longest
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from gateway_app.core.errors import InvalidInput
from gateway_app.core.logging import get_logger
from gateway_app.core.metrics import GatewayMetrics
from gateway_app.core.batch_writer import BatchWriter
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import BLOCKED_ERROR_TYPE, UsageRecord, UsageRollup
from gateway_app.services.principals import Principal
from gateway_app.services.append_writers import LATENCY_EDGES_MS, usage_writer
from gateway_app.services.tenant_access import TenantAccess

log = get_logger("usage")
GroupBy = Literal["model", "token", "project", "day", "hour"]


def _sum_buckets(items: Sequence[UsageRollup]) -> list[int]:
    """Latency histograms added bucket by bucket (a stored row may omit trailing empty buckets)."""
    return [sum(b) for b in zip_longest(*(r.latency_buckets for r in items), fillvalue=0)]


def _average(items: Sequence[UsageRollup], digits: int = 2) -> float | None:
    """Mean latency of the answered requests (guardrail blocks are left out)."""
    timed = sum(r.requests - r.blocked for r in items)
    return round(sum(r.latency_ms_sum for r in items) / timed, digits) if timed > 0 else None


def percentile_ms(buckets: Sequence[int], fraction: float) -> float | None:
    """Approximate percentile from a histogram: the upper edge of the bucket holding it."""
    total = sum(buckets)
    if total == 0:
        return None
    target, seen = fraction * total, 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= target:
            return float(LATENCY_EDGES_MS[index]) if index < len(LATENCY_EDGES_MS) else float(LATENCY_EDGES_MS[-1])
    return float(LATENCY_EDGES_MS[-1])


class UsageRecorder:
    """The hot path calls record(); a worker thread writes batches per tenant. Every record also counts
    in the process's metrics (requests, latency, tokens, cost)."""

    def __init__(self, store: DataStore, max_queue: int = 100_000, retry_for: float = 120.0,
                 metrics: GatewayMetrics | None = None) -> None:
        self.writer: BatchWriter[UsageRecord] = usage_writer(store, max_queue, retry_for)
        self.metrics = metrics

    def record(self, tenant: str, record: UsageRecord) -> bool:
        """Queue a record without waiting; False when the queue is full (counted and logged)."""
        if self.metrics is not None:
            self.metrics.request(
                tenant, record.model, record.kind, status=record.status,
                blocked=record.error_type == BLOCKED_ERROR_TYPE, latency_s=record.latency_ms / 1000,
                ttft_s=record.ttft_ms / 1000 if record.ttft_ms is not None else None, prompt=record.prompt_tokens,
                completion=record.completion_tokens, cost=record.cost_usd, project=record.project_id or "",
                token=record.token_id)
        return self.writer.submit(tenant, record)


class UsageRow(BaseModel):
    """Aggregated usage of one group."""

    key: str
    requests: int
    errors: int  # failures (4xx/5xx), guardrail blocks not included
    blocked: int  # refused by a guardrail on purpose
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    avg_latency_ms: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None


class UsageSummary(BaseModel):
    """Aggregates over a time range."""

    start: datetime
    end: datetime
    group_by: str
    rows: list[UsageRow]


class UsageRequest(BaseModel):
    """One request as listed on the usage page."""

    id: str
    at: datetime
    request_id: str
    model: str
    kind: str  # chat | embedding
    upstream_model: str
    token_id: str
    project_id: str | None
    status: int
    error_type: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    fallback: bool
    rag_module: str = ""
    memory_store: str = ""


def _key(rollup: UsageRollup, group_by: str) -> str:
    if group_by == "model":
        return rollup.model
    if group_by == "token":
        return rollup.token_id or "(none)"
    if group_by == "project":
        return rollup.project_id or "(none)"
    if group_by == "day":
        return rollup.hour.strftime("%Y-%m-%d")
    return rollup.hour.strftime("%Y-%m-%dT%H:00Z")


class UsagePoint(BaseModel):
    """One bucket of a usage time series."""

    start: datetime
    label: str
    requests: int = 0
    errors: int = 0
    blocked: int = 0
    error_rate: float = 0.0  # errors / requests (blocks are not errors)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    avg_latency_ms: float | None = None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None


class ProviderHealth(BaseModel):
    """Recent traffic of a provider, from the request log."""

    requests: int
    errors: int
    error_rate: float


CSV_COLUMNS = ("at", "request_id", "model", "upstream_model", "token_id", "project_id", "status", "error_type",
               "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ttft_ms", "stream", "fallback")


class UsageQueries:
    """Read side of usage for the management API and the console (roll-ups only for aggregates)."""

    def __init__(self, access: TenantAccess) -> None:
        self._access = access

    def summary(self, actor: Principal, tenant: str | None, start: datetime | None, end: datetime | None,
                group_by: str = "model") -> UsageSummary:
        """Totals per group between start and end (default: the last 24 hours)."""
        if group_by not in ("model", "token", "project", "day", "hour"):
            raise InvalidInput("group_by must be one of model, token, project, day, hour", param="group_by")
        end = _utc(end) or datetime.now(UTC)
        start = _utc(start) or end - timedelta(days=1)
        if start >= end:
            raise InvalidInput("from must be before to", param="from")
        # Roll-ups are hourly: include the hour `start` falls in.
        with self._access.open(actor, tenant) as uow:
            rollups = uow.usage.rollups(start.replace(minute=0, second=0, microsecond=0), end)
        groups: dict[str, list[UsageRollup]] = defaultdict(list)
        for rollup in rollups:
            groups[_key(rollup, group_by)].append(rollup)
        rows = []
        for key, items in sorted(groups.items()):
            buckets = _sum_buckets(items)
            requests = sum(r.requests for r in items)
            prompt, completion = sum(r.prompt_tokens for r in items), sum(r.completion_tokens for r in items)
            rows.append(UsageRow(
                key=key, requests=requests, errors=sum(r.errors for r in items), blocked=sum(r.blocked for r in items),
                prompt_tokens=prompt,
                completion_tokens=completion, total_tokens=prompt + completion,
                cost_usd=round(sum(r.cost_usd for r in items), 8),
                avg_latency_ms=_average(items),
                p50_latency_ms=percentile_ms(buckets, 0.5), p95_latency_ms=percentile_ms(buckets, 0.95)))
        return UsageSummary(start=start, end=end, group_by=group_by, rows=rows)

    def recent(self, actor: Principal, tenant: str | None, *, model: str | None = None, token_id: str | None = None,
               status: str | None = None, rag_module: str | None = None, memory_store: str | None = None,
               offset: int = 0, limit: int = 50) -> list[UsageRequest]:
        """Newest requests first (rag_module / memory_store: only the calls made for it)."""
        with self._access.open(actor, tenant) as uow:
            records = uow.usage.recent(model=model, token_id=token_id, status=status, rag_module=rag_module,
                                       memory_store=memory_store, offset=offset, limit=limit)
        return [UsageRequest(**{name: getattr(r, name) for name in UsageRequest.model_fields}) for r in records]

    def count(self, actor: Principal, tenant: str | None, *, model: str | None = None, token_id: str | None = None,
              status: str | None = None, rag_module: str | None = None, memory_store: str | None = None) -> int:
        """How many requests match the filters (for pagination)."""
        with self._access.open(actor, tenant) as uow:
            return uow.usage.count(model=model, token_id=token_id, status=status, rag_module=rag_module,
                                   memory_store=memory_store)

    def export_csv(self, actor: Principal, tenant: str | None, *, model: str | None = None,
                   token_id: str | None = None, status: str | None = None, limit: int = 50_000) -> str:
        """The filtered requests as CSV, newest first."""
        rows = self.recent(actor, tenant, model=model, token_id=token_id, status=status, limit=limit)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, c).isoformat() if c == "at" else getattr(row, c) for c in CSV_COLUMNS])
        return out.getvalue()

    def timeseries(self, actor: Principal, tenant: str | None, start: datetime, end: datetime,
                   bucket: Literal["hour", "day"] = "hour") -> list[UsagePoint]:
        """Per-hour or per-day totals with empty buckets filled, for charts (roll-ups only)."""
        start, end = _utc(start), _utc(end)
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        first = start.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            first = first.replace(hour=0)
        with self._access.open(actor, tenant) as uow:
            rollups = uow.usage.rollups(first, end)
        groups: dict[datetime, list[UsageRollup]] = defaultdict(list)
        for rollup in rollups:
            key = rollup.hour if bucket == "hour" else rollup.hour.replace(hour=0)
            groups[key].append(rollup)
        points, cursor = [], first
        while cursor < end:
            items = groups.get(cursor, [])
            label = cursor.strftime("%H:00") if bucket == "hour" else cursor.strftime("%b %d")
            point = UsagePoint(start=cursor, label=label)
            if items:
                buckets = _sum_buckets(items)
                point.requests = sum(r.requests for r in items)
                point.errors = sum(r.errors for r in items)
                point.blocked = sum(r.blocked for r in items)
                point.error_rate = round(point.errors / point.requests, 4) if point.requests else 0.0
                point.prompt_tokens = sum(r.prompt_tokens for r in items)
                point.completion_tokens = sum(r.completion_tokens for r in items)
                point.total_tokens = point.prompt_tokens + point.completion_tokens
                point.cost_usd = round(sum(r.cost_usd for r in items), 6)
                point.avg_latency_ms = _average(items, 1)
                point.p50_latency_ms = percentile_ms(buckets, 0.5)
                point.p95_latency_ms = percentile_ms(buckets, 0.95)
            points.append(point)
            cursor += step
        return points

    def model_sparklines(self, actor: Principal, tenant: str | None, hours: int = 24) -> dict[str, list[int]]:
        """Requests per hour over the last hours, per model (for the models page)."""
        end = datetime.now(UTC)
        first = (end - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
        with self._access.open(actor, tenant) as uow:
            rollups = uow.usage.rollups(first, end)
        series: dict[str, list[int]] = defaultdict(lambda: [0] * hours)
        for rollup in rollups:
            index = int((rollup.hour - first).total_seconds() // 3600)
            if 0 <= index < hours:
                series[rollup.model][index] += rollup.requests
        return dict(series)

    def provider_health(self, actor: Principal, tenant: str | None, minutes: int = 60) -> dict[str, ProviderHealth]:
        """Requests and error rate per provider over the last minutes."""
        with self._access.open(actor, tenant) as uow:
            stats = uow.usage.provider_stats(datetime.now(UTC) - timedelta(minutes=minutes))
        return {pid: ProviderHealth(requests=total, errors=errors, error_rate=round(errors / total, 4) if total else 0)
                for pid, (total, errors) in stats.items() if pid}


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
