"""Client-request totals per label set, one row of doubles each, summed across worker processes.

prometheus-client keeps a child object per label set and a value object (with its lock, and in
multiprocess mode its key string) per histogram bucket: with tenant x model labels that was ~30 MB per
process at 1,000 tenants, and serve-api always runs in multiprocess mode. Here a label set is one row
of WIDTH doubles. With PROMETHEUS_MULTIPROC_DIR set the rows are a memory map of `requests_<pid>.db`
in that directory and their keys one JSON line each in `requests_<pid>.keys`, so the worker that
answers a scrape sums every process's rows, as MultiProcessCollector does with prometheus-client's
own files (a stopped worker's counts stay, as its counters do).
"""

from __future__ import annotations

import json
import mmap
import os
import threading
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A row: requests, latency buckets (the last above every bound), latency sum, TTFT buckets, TTFT sum,
# prompt tokens, completion tokens, cost.
REQUESTS = 0
LATENCY = 1
LATENCY_SUM = LATENCY + len(LATENCY_BUCKETS) + 1
TTFT = LATENCY_SUM + 1
TTFT_SUM = TTFT + len(TTFT_BUCKETS) + 1
PROMPT, COMPLETION, COST = TTFT_SUM + 1, TTFT_SUM + 2, TTFT_SUM + 3
WIDTH = COST + 1
_ROW_BYTES = WIDTH * 8
_FIRST_ROWS = 256


class RequestTotals:
    """This process's totals (key: label values, kind, outcome); merged() adds every process's."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, ...], int] = {}
        self._values: array | memoryview = array("d")
        self._pid = 0
        self._map: mmap.mmap | None = None
        self._fd = -1
        self._keys = None

    def add(self, key: tuple[str, ...], deltas: Sequence[float]) -> None:
        """Add a row's worth of deltas to a label set (created at zero when new)."""
        with self._lock:
            if self._directory is not None and self._pid != os.getpid():
                self._open_files()
            row = self._rows.get(key)
            if row is None:
                row = self._new_row(key)
            values, base = self._values, row * WIDTH
            for index, delta in enumerate(deltas):
                if delta:
                    values[base + index] += delta

    def merged(self) -> dict[tuple[str, ...], list[float]]:
        """Every label set's totals: this process's, or with a directory every process's that wrote there."""
        if self._directory is None:
            with self._lock:
                return {key: list(self._values[row * WIDTH:(row + 1) * WIDTH]) for key, row in self._rows.items()}
        merged: dict[tuple[str, ...], list[float]] = {}
        for keys_path in sorted(self._directory.glob("requests_*.keys")):
            for key, row in _read_process(keys_path):
                _add_row(merged, key, row)
        return merged

    def _open_files(self) -> None:
        # Per process: a forked child must not write into its parent's rows.
        self._pid = os.getpid()
        self._rows = {}
        self._release_map()
        stem = self._directory / f"requests_{self._pid}"
        self._keys = open(stem.with_suffix(".keys"), "w", encoding="utf-8")  # noqa: SIM115 - kept open
        self._fd = os.open(stem.with_suffix(".db"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._map_rows(_FIRST_ROWS)

    def _new_row(self, key: tuple[str, ...]) -> int:
        row = len(self._rows)
        if self._directory is None:
            self._values.extend([0.0] * WIDTH)
        else:
            if row * WIDTH >= len(self._values):
                self._map_rows(2 * len(self._values) // WIDTH)
            # The row's values are zero before its key is visible: a reader never sees another's numbers.
            self._keys.write(json.dumps([row, list(key)]) + "\n")
            self._keys.flush()
        self._rows[key] = row
        return row

    def _map_rows(self, rows: int) -> None:
        self._release_map()
        os.ftruncate(self._fd, rows * _ROW_BYTES)
        self._map = mmap.mmap(self._fd, rows * _ROW_BYTES)
        self._values = memoryview(self._map).cast("d")

    def _release_map(self) -> None:
        if self._map is not None:
            self._values.release()
            self._map.close()
            self._map = None


def _read_process(keys_path: Path) -> Iterator[tuple[tuple[str, ...], list[float]]]:
    """(key, row) of one process's files; a key line still being written is skipped."""
    try:
        lines = keys_path.read_text(encoding="utf-8").split("\n")[:-1]  # the last piece has no newline yet
        data = keys_path.with_suffix(".db").read_bytes()
    except FileNotFoundError:
        return
    values = array("d")
    values.frombytes(data[:len(data) - len(data) % 8])
    for line in lines:
        row, key = json.loads(line)
        if (row + 1) * WIDTH <= len(values):
            yield tuple(key), values[row * WIDTH:(row + 1) * WIDTH].tolist()


class RequestCollector:
    """The client-request metric families, built from merged totals at each scrape."""

    def __init__(self, totals: RequestTotals, labels: tuple[str, ...]) -> None:
        self._totals = totals
        self._labels = labels

    def describe(self) -> list:
        """The families without samples (the registry checks names with it)."""
        return list(self._families())

    def collect(self) -> Iterator:
        """The families with every label set's values."""
        requests, latency, ttft, tokens, cost = families = self._families()
        per_kind: dict[tuple[str, ...], list[float]] = {}
        per_labels: dict[tuple[str, ...], list[float]] = {}
        for key, row in self._totals.merged().items():
            requests.add_metric(key, row[REQUESTS])
            _add_row(per_kind, key[:-1], row)
            _add_row(per_labels, key[:-2], row)
        for key, row in per_kind.items():
            latency.add_metric(key, _buckets(row[LATENCY:LATENCY_SUM], LATENCY_BUCKETS), row[LATENCY_SUM])
        for key, row in per_labels.items():
            ttft.add_metric(key, _buckets(row[TTFT:TTFT_SUM], TTFT_BUCKETS), row[TTFT_SUM])
            tokens.add_metric((*key, "prompt"), row[PROMPT])
            tokens.add_metric((*key, "completion"), row[COMPLETION])
            cost.add_metric(key, row[COST])
        yield from families

    def _families(self) -> tuple:
        labels = self._labels
        return (CounterMetricFamily("gatehouse_requests", "Client API requests by outcome (ok, error, blocked)",
                                    labels=(*labels, "kind", "outcome")),
                HistogramMetricFamily("gatehouse_request_duration_seconds", "Client API request latency",
                                      labels=(*labels, "kind")),
                HistogramMetricFamily("gatehouse_time_to_first_token_seconds",
                                      "Streamed requests: time to the first token", labels=labels),
                CounterMetricFamily("gatehouse_tokens", "Tokens by type (prompt, completion)",
                                    labels=(*labels, "type")),
                CounterMetricFamily("gatehouse_cost_usd", "Cost in US dollars at the configured prices",
                                    labels=labels))


def _add_row(groups: dict[tuple[str, ...], list[float]], key: tuple[str, ...], row: list[float]) -> None:
    total = groups.get(key)
    if total is None:
        groups[key] = list(row)
    else:
        for index, value in enumerate(row):
            total[index] += value


def _buckets(counts: Sequence[float], bounds: Sequence[float]) -> list[tuple[str, float]]:
    """Per-bucket counts as Prometheus's cumulative (le, count) pairs, +Inf last."""
    pairs, running = [], 0.0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        pairs.append((floatToGoString(bound), running))
    return pairs
