"""Backends side by side: the client API on SQLite and on MongoDB, and usage writes on each.

    .venv/bin/python -m bench.mongodb_bench [--duration 5] [--concurrency 16] [--batches 40]

Part 1: two serve-api processes (one worker each, the same fake upstream), one with SQLite files and
one with DB_PROVIDER=mongodb on the nx-27017 wire server; non-streamed and streamed chat per
concurrency; req/s, p50/p99, the gateway's CPU ms per request, the database server's CPU ms per
request (MongoDB only: a separate process; SQLite runs inside the gateway), and after each cell
whether every completed request has its usage row (the usage writer flushed: `/health/ready`).
Part 2: the batch writers' volume without HTTP: `--batches` batches of 200 usage records with
their hourly roll-ups through each store's `appends.usage` (one transaction per batch), rows/s.

The wire server is SQLite behind the MongoDB protocol, not mongod: its figures say what the
gateway's side costs (driver, BSON, round trips), not what a MongoDB replica set would sustain.
Results also go to bench/results/mongodb-latest.json. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pymongo import MongoClient

from bench.gateway_bench import KINDS, ROOT, cpu_seconds, start, start_gateway, stop, wrk
from gateway_app.db.mongo.store import MongoStore
from gateway_app.db.records import UsageRecord
from gateway_app.db.sqlite.store import SqliteStore
from gateway_app.services.append_writers import rollups_of
from tests.support.processes import free_port

PREFIX = "bench_"


@dataclass
class Cell:
    backend: str
    kind: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    gateway_cpu_ms: float | None
    database_cpu_ms: float | None
    requests: int
    usage_rows_added: int


def usage_rows(backend: str, workdir: Path, mongo_uri: str) -> int:
    """Rows in the bench tenant's model_usage_logs."""
    if backend == "mongodb":
        with MongoClient(mongo_uri) as client:
            return client[f"{PREFIX}tenant_bench"]["model_usage_logs"].count_documents({})
    path = workdir / "data-sqlite" / "tenant_bench.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM model_usage_logs").fetchone()[0]


def rows_added(backend: str, workdir: Path, mongo_uri: str, before: int, expected: int, timeout: float = 20.0) -> int:
    """Usage rows added since `before`, re-read until `expected` are there or `timeout` passes (the writer
    batches off the request path)."""
    deadline = time.monotonic() + timeout
    while True:
        added = usage_rows(backend, workdir, mongo_uri) - before
        if added >= expected or time.monotonic() > deadline:
            return added
        time.sleep(0.25)


def settle(backend: str, workdir: Path, mongo_uri: str, timeout: float = 20.0) -> None:
    """Until the row count stops moving (the warm-up's rows written)."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = usage_rows(backend, workdir, mongo_uri)
        if now == last:
            return
        last = now
        time.sleep(1.5)  # longer than the usage writer's flush interval


def http_cells(args, workdir: Path, upstream_url: str, mongo) -> list[Cell]:
    gateways = {}
    cells: list[Cell] = []
    try:
        gateways["sqlite"] = start_gateway(1, upstream_url, workdir, name="sqlite")
        gateways["mongodb"] = start_gateway(1, upstream_url, workdir, name="mongodb", extra_env={
            "DB_PROVIDER": "mongodb", "MONGODB_URI": mongo.uri, "MONGODB_DB_PREFIX": PREFIX})
        for kind in ("chat", "stream"):
            for concurrency in args.concurrency:
                for backend, (proc, base, token) in gateways.items():
                    path, body = KINDS[kind]
                    url, body = base + path, {**body, "model": "bench-chat"}
                    wrk(url, body, token, concurrency, 1.0, workdir)  # pools and caches warm
                    settle(backend, workdir, mongo.uri)
                    rows_before = usage_rows(backend, workdir, mongo.uri)
                    gw_before, db_before = cpu_seconds(proc.pid), cpu_seconds(mongo.proc.pid)
                    requests, _, rps, p50, p99 = wrk(url, body, token, concurrency, args.duration, workdir)
                    gw_cpu = (cpu_seconds(proc.pid) - gw_before) * 1000 / max(requests, 1)
                    db_cpu = (cpu_seconds(mongo.proc.pid) - db_before) * 1000 / max(requests, 1)
                    cell = Cell(backend, kind, concurrency, round(rps, 1), round(p50, 3), round(p99, 3),
                                round(gw_cpu, 3), round(db_cpu, 3) if backend == "mongodb" else None,
                                requests, rows_added(backend, workdir, mongo.uri, rows_before, requests))
                    cells.append(cell)
                    print(row(cell), flush=True)
    finally:
        for proc, _, _ in gateways.values():
            stop(proc)
    return cells


def row(c: Cell) -> str:
    database = f"{c.database_cpu_ms:.3f}" if c.database_cpu_ms is not None else "(in gw)"
    return (f"{c.backend:<9}{c.kind:<8}{c.concurrency:>5}{c.rps:>9.0f}{c.p50_ms:>9.2f}{c.p99_ms:>9.2f}"
            f"{c.gateway_cpu_ms:>10.3f}{database:>10}{c.requests:>9}{c.usage_rows_added:>9}")


HEADER = (f"{'backend':<9}{'kind':<8}{'conc':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'gw cpu':>10}"
          f"{'db cpu':>10}{'requests':>9}{'rows +':>9}")


def usage_throughput(store, batches: int) -> float:
    """Usage rows per second through store.appends.usage, 200 records a batch."""
    start_at = time.perf_counter()
    for batch in range(batches):
        records = [UsageRecord(request_id=f"r{batch}-{i}", model=f"m{i % 3}", token_id="tok", prompt_tokens=10,
                               completion_tokens=5, latency_ms=12.0 + i, at=datetime.now(UTC)) for i in range(200)]
        store.appends.usage("bench", records, rollups_of(records))
    return batches * 200 / (time.perf_counter() - start_at)


def writer_cells(args, workdir: Path, mongo) -> dict[str, float]:
    from gateway_app.db.records import TenantRecord

    results = {}
    stores = {"sqlite": SqliteStore(workdir / "writer-sqlite"), "mongodb": MongoStore(mongo.uri, prefix="writer_")}
    for backend, store in stores.items():
        store.migrate()
        with store.control() as uow:
            uow.tenants.add(TenantRecord(slug="bench", name="Bench"))
            uow.commit()
        store.create_tenant_store("bench")
        results[backend] = round(usage_throughput(store, args.batches), 0)
        store.close()
        print(f"usage writes {backend:<8} {results[backend]:>8.0f} rows/s (batches of 200, with roll-ups)", flush=True)
    return results


def main() -> None:
    from tests.support.processes import MongoWireServer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-mongo-"))
    upstream_port = free_port()
    upstream = start([sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)], upstream_port)
    mongo = MongoWireServer.start(workdir / "nx")
    try:
        print(HEADER, flush=True)
        cells = http_cells(args, workdir, f"http://127.0.0.1:{upstream_port}/v1", mongo)
        writes = writer_cells(args, workdir, mongo)
    finally:
        mongo.stop()
        stop(upstream)
    print()
    print(HEADER)
    for cell in cells:
        print(row(cell))
    for backend, rate in writes.items():
        print(f"usage writes {backend:<8} {rate:>8.0f} rows/s")
    missing = [c for c in cells if c.usage_rows_added < c.requests]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "mongodb-latest.json").write_text(json.dumps({"http": [asdict(c) for c in cells], "usage_rows_per_s": writes},
                                                        indent=2))
    if missing:
        sys.exit(f"usage rows missing in {len(missing)} cell(s)")


if __name__ == "__main__":
    main()
