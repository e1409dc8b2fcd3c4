"""Prometheus metrics (prometheus-client): what every request cost, and the state of the parts behind it.

With several worker processes (`serve-api --workers N`) the server sets PROMETHEUS_MULTIPROC_DIR
to an emptied `DATA_DIR/metrics` before any worker starts (`prepare_multiprocess`): each process
writes its values to files there and `/metrics` sums them, whichever worker answers the scrape.
Without it (one process, tests) values live in this process's registry.

Cardinality is bounded by design: labels come from the configured set (`METRICS_LABELS`, default
`tenant,model`; never the token or user unless asked); request metrics come from usage records,
whose model is always a name of the tenant's catalogue (a request for another model is a 404,
counted by route only); a path that matches no route is `other`.
"""

from __future__ import annotations

import os
import shutil
import threading
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from gateway_app.core.request_totals import (
    COMPLETION, COST, LATENCY, LATENCY_BUCKETS, LATENCY_SUM, PROMPT, REQUESTS, TTFT, TTFT_BUCKETS, TTFT_SUM, WIDTH,
    RequestCollector, RequestTotals,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ALLOWED_LABELS = ("tenant", "model", "project", "token")
KINDS = frozenset({"chat", "embedding", "rerank"})  # usage records' kinds
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}


def prepare_multiprocess(data_dir: Path) -> Path:
    """Empty DATA_DIR/metrics and point this process and its future children at it (call before they start)."""
    path = data_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def parse_labels(text: str) -> tuple[str, ...]:
    """METRICS_LABELS as a tuple; unknown names are a configuration error naming them."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in ALLOWED_LABELS]
    if unknown:
        raise ValueError(f"METRICS_LABELS: unknown label(s) {', '.join(unknown)}; allowed: {', '.join(ALLOWED_LABELS)}")
    return names


class GatewayMetrics:
    """The process's metrics (one instance per process: prometheus-client keeps one registry of names)."""

    def __init__(self, labels: Iterable[str] = ("tenant", "model")) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.labels = tuple(labels)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode values go to files whatever the registry; this one is only read
        # when there is a single process.
        self.registry = r = CollectorRegistry(auto_describe=True)
        # Per-request figures (tenant x model label sets) live in rows of doubles, not in prometheus-client
        # children: request_totals.py says why.
        self.totals = RequestTotals(Path(os.environ[MULTIPROC_ENV]) if self.multiprocess else None)
        self._collector = RequestCollector(self.totals, self.labels)
        r.register(self._collector)
        self.responses = Counter("gatehouse_http_responses", "HTTP answers of /v1 and /admin/v1 by route template",
                                 ("route", "method", "code"), registry=r)
        self.breaker = Gauge("gatehouse_provider_breaker_state", "Circuit breaker per provider: 0 closed, "
                             "1 half-open, 2 open (the highest of the live workers)", ("tenant", "provider"),
                             multiprocess_mode="livemax", registry=r)
        self.cache = Counter("gatehouse_cache_lookups", "Token cache lookups by result (hit, miss)", ("cache", "result"),
                             registry=r)
        self.queue = Gauge("gatehouse_batch_writer_pending", "Records waiting in a batch writer", ("writer",),
                           multiprocess_mode="livesum", registry=r)
        self.written = Counter("gatehouse_batch_writer_records", "Batch writer records by result (written, "
                               "retried, spilled, dropped, rejected)", ("writer", "result"), registry=r)
        self.alert_evaluations = Counter("gatehouse_alert_evaluations", "Alert rule evaluations", (), registry=r)
        self.notifications = Counter("gatehouse_alert_notifications", "Alert notifications by channel type and "
                                     "result", ("channel", "result"), registry=r)
        self._answers: dict[tuple, int] = {}  # HTTP answers since the last flush
        self._pending: dict[tuple, list[float]] = {}  # rows (request_totals layout) added up since the last flush
        self._lock = threading.Lock()
        self._last: dict[tuple, float] = {}  # counters synced from stats: the value last seen

    def response(self, route: str | None, method: str, status: int) -> None:
        """One HTTP answer (route: the matched template, None when nothing matched); added up like request()."""
        key = (route or "other", method if method in METHODS else "other", str(status))
        with self._lock:
            self._answers[key] = self._answers.get(key, 0) + 1

    def request(self, tenant: str, model: str, kind: str, *, status: int, blocked: bool,
                latency_s: float, ttft_s: float | None, prompt: int, completion: int, cost: float,
                project: str = "", token: str = "") -> None:
        """One finished client request (once per request, from the usage recorder): added up here, handed
        to the totals by flush() (every second and before a scrape), so a request costs a few additions."""
        values = {"tenant": tenant, "model": model, "project": project or "-", "token": token}
        outcome = "blocked" if blocked else "error" if status >= 400 else "ok"
        key = (*(values[n] for n in self.labels), kind if kind in KINDS else "other", outcome)
        with self._lock:
            row = self._pending.get(key)
            if row is None:
                row = self._pending[key] = [0.0] * WIDTH
            row[REQUESTS] += 1
            row[LATENCY + bisect_left(LATENCY_BUCKETS, latency_s)] += 1
            row[LATENCY_SUM] += latency_s
            if ttft_s is not None:
                row[TTFT + bisect_left(TTFT_BUCKETS, ttft_s)] += 1
                row[TTFT_SUM] += ttft_s
            row[PROMPT] += prompt
            row[COMPLETION] += completion
            row[COST] += cost

    def flush(self) -> None:
        """Hand what request() and response() added up to the totals and prometheus-client."""
        with self._lock:
            pending, self._pending = self._pending, {}
            answers, self._answers = self._answers, {}
        for key, count in answers.items():
            self.responses.labels(*key).inc(count)
        for key, row in pending.items():
            self.totals.add(key, row)

    def sync_writer(self, name: str, stats: dict) -> None:
        """A batch writer's queue depth and its counters (increments since the last sync)."""
        self.queue.labels(name).set(stats.get("pending", 0))
        for result in ("written", "retried", "spilled", "dropped", "rejected"):
            self._add(self.written.labels(name, result), ("writer", name, result), stats.get(result, 0))

    def sync_cache(self, name: str, hits: int, misses: int) -> None:
        """A lookup cache's totals so far."""
        self._add(self.cache.labels(name, "hit"), ("cache", name, "hit"), hits)
        self._add(self.cache.labels(name, "miss"), ("cache", name, "miss"), misses)

    def sync_breakers(self, states: Iterable[tuple[str, str, str]]) -> None:
        """(tenant, provider, state) of every breaker in use."""
        for tenant, provider, state in states:
            self.breaker.labels(tenant, provider).set(BREAKER_VALUES.get(state, 0))

    def _add(self, counter, key: tuple, total: float) -> None:
        last = self._last.get(key, 0)
        if total > last:
            counter.inc(total - last)
        self._last[key] = max(total, last)

    def render(self) -> tuple[bytes, str]:
        """The exposition text of every process's values, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        self.flush()  # this process's latest; other workers' values are at most a second old
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self._collector)  # every process's request rows (request_totals.py)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def process_ended(self) -> None:
        """This process is stopping: its live gauges leave the sums."""
        self.flush()
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())


_instance: GatewayMetrics | None = None
_instance_lock = threading.Lock()


def gateway_metrics(labels: Iterable[str] = ("tenant", "model")) -> GatewayMetrics:
    """The process's metrics, built on first use (later calls get the same object)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = GatewayMetrics(labels)
        return _instance
