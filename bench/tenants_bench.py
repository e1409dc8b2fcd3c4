"""Tenants axis: one serve-api worker, the same load spread over 1, 100 and 1,000 active tenants.

    .venv/bin/python -m bench.tenants_bench [--tenants 1 100 1000] [--concurrency 16 64]
                                           [--kinds chat stream] [--duration 5] [--setup-clients 4]

Every tenant has its own provider (the same fake upstream URL, bench/upstream.py in its own
process), a model `bench-chat` and an API token. wrk's `request()` rotates over the first N
tenants' tokens (each wrk thread starts at its own offset), so consecutive requests belong to
different tenants. Tenants are created once over the management API (a few concurrent clients)
and kept: the same gateway process and DATA_DIR serve 1, then 100, then 1,000 tenants (the gateway
creates tenants one at a time, so more clients do not make set-up faster; a 503 is retried and counted).

Each new tenant's first request (token, catalogue and provider client loaded: its cold start) is
sent once before the cells and its CPU reported on its own line; the cells measure active tenants.
Per cell (tenants x kind x concurrency; 1 s warm-up, then `--duration` s): req/s, p50/p99 (wrk),
the gateway's CPU ms per request (process tree), RSS, open descriptors (peak while loaded and
after), the usage writer's lag (`/health/ready` -> writers.usage, read once `pending` is 0) and
whether every completed request has its row in `model_usage_logs` (all tenant files, read-only).
Requests cut off when wrk stops may add up to ~concurrency extra rows; `missing` counts the
opposite and makes the script exit 1. Results also go to bench/results/tenants-latest.json.
Nothing here is a test: figures vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench.gateway_bench import ADMIN, PAGE, ROOT, TICKS, _tree, bench_provider, cpu_seconds, rss_mb, start, stop
from tests.support.processes import free_port
from tests.support.servers import admin_login, configure_over_http

MODEL = "bench-chat"
MESSAGES = [{"role": "user", "content": "Hello, how are you today?"}]
BODIES = {"chat": {"model": MODEL, "messages": MESSAGES},
          "stream": {"model": MODEL, "messages": MESSAGES, "stream": True}}
PATH = "/v1/chat/completions"
WRK_THREADS = 2


@dataclass
class Cell:
    tenants: int
    kind: str
    concurrency: int
    requests: int           # completed by wrk in the measured run
    warmup_requests: int
    errors: int             # wrk: connect + read + write + timeout + non-2xx/3xx status
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    loop_share: float | None  # part of that CPU spent on the main (event loop) thread; the rest: worker threads
    writer_cpu_ms_per_request: float | None  # of which the writer process (usage rows, a transaction per tenant)
    rss_mb: float           # the largest process of the tree
    rss_gateway_mb: float   # the gateway process alone (the largest worker with --workers N)
    rss_writer_mb: float    # its writer process (the largest)
    writer_processes: int
    rss_peak_mb: float
    fds_peak: int           # open descriptors of the gateway tree, sampled every 0.2 s under load
    fds_after: int          # once the usage writer has drained
    drain_s: float          # from wrk's exit until writers.usage.pending == 0
    lag_ms_p99: float | None
    lag_ms_max: float | None
    recorded: int           # new rows in model_usage_logs (all tenants)
    written: int            # writers.usage.written, delta over the cell
    rows_per_tx: float | None  # written / writers.usage.batches over the cell: rows per tenant transaction
    missing: int            # completed (warm-up + run) - recorded, when positive
    late: int               # rows not yet visible when pending first read 0 (found by recounting for up to 15 s)
    writer_trouble: dict    # writers.usage dropped/spilled/rejected/retried/failing_tenants when non-zero


def loop_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the main threads of a process tree (where uvicorn runs the event loop)."""
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/task/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def writer_pids(pid: int) -> list[int]:
    """The gateway's writer processes (one per worker, or one for the host)."""
    found = []
    for member in _tree(pid):
        try:
            if b"gateway_app.core.writer_process" in Path(f"/proc/{member}/cmdline").read_bytes():
                found.append(member)
        except OSError:
            continue
    return found


def serving_pids(pid: int) -> list[int]:
    """The processes answering requests: the gateway, or the workers of a master."""
    writers = set(writer_pids(pid))
    members = [member for member in _tree(pid) if member not in writers]
    return [member for member in members if member != pid] or [pid]


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes."""
    total = 0
    for member in pids:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def process_rss_mb(pids: list[int]) -> float:
    """Largest resident set among the given processes."""
    sizes = []
    for member in pids:
        try:
            sizes.append(int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE / 2**20)
        except OSError:
            continue
    return max(sizes, default=0.0)


def fd_count(pids: list[int]) -> int:
    """Open descriptors of the given processes."""
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


class Sampler:
    """Peak descriptor count and RSS of a process tree while a cell runs."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self._pid, self._interval = pid, interval
        self._stop = threading.Event()
        self.fds_peak, self.rss_peak = 0, 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        pids = _tree(self._pid)
        while not self._stop.is_set():
            self.fds_peak = max(self.fds_peak, fd_count(pids))
            self.rss_peak = max(self.rss_peak, rss_mb(self._pid))
            self._stop.wait(self._interval)


def wrk_tokens(url: str, body: dict, tokens: list[str], concurrency: int, duration: float,
               workdir: Path) -> tuple[int, int, float, float, float]:
    """wrk with a request() rotating over `tokens` (one prebuilt request per token, own offset per thread)."""
    script = workdir / f"tenants-{len(tokens)}.lua"
    threads = min(concurrency, WRK_THREADS)
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        'local tokens = {' + ",".join(json.dumps(t) for t in tokens) + '}\n'
        'local started = 0\n'
        'function setup(thread)\n  thread:set("offset", started)\n  started = started + 1\nend\n'
        'local requests, position = {}, 0\n'
        'function init(args)\n'
        '  for i, token in ipairs(tokens) do\n'
        '    wrk.headers["Authorization"] = "Bearer " .. token\n'
        '    requests[i] = wrk.format()\n'
        '  end\n'
        f'  position = (offset or 0) * math.floor(#tokens / {threads})\n'
        'end\n'
        'function request()\n  position = position % #tokens + 1\n  return requests[position]\nend\n'
        'done = function(summary, latency, requests)\n'
        '  local e = summary.errors\n'
        '  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests, e.connect + e.read + e.write + '
        'e.status + e.timeout, latency:percentile(50), latency:percentile(99), summary.duration))\nend\n')
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout",
                          "10s", "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    line = next(li for li in out.splitlines() if li.startswith("RESULT"))
    requests, errors, p50, p99, micros = line.split()[1:]
    seconds = float(micros) / 1e6
    return int(requests), int(errors), int(requests) / seconds, float(p50) / 1000, float(p99) / 1000


def usage_rows(data_dir: Path) -> int:
    """Rows of model_usage_logs across every tenant file (opened read-only)."""
    total = 0
    for path in sorted(data_dir.glob("tenant_*.sqlite")):
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            total += connection.execute("SELECT count(*) FROM model_usage_logs").fetchone()[0]
        finally:
            connection.close()
    return total


def usage_writer(base: str) -> dict:
    """writers.usage from /health/ready."""
    return httpx.get(base + "/health/ready", timeout=10).json()["writers"]["usage"]


def drain(base: str, timeout: float = 120.0) -> tuple[dict, float]:
    """Wait until the usage writer holds nothing (twice in a row); returns its stats and the wait."""
    started = time.monotonic()
    time.sleep(0.5)  # requests wrk cut off finish (or see the disconnect) and enqueue their record
    idle = 0
    while True:
        stats = usage_writer(base)
        idle = idle + 1 if stats["pending"] == 0 else 0
        if idle >= 2 or time.monotonic() - started > timeout:
            return stats, time.monotonic() - started
        time.sleep(0.1)


class Tenants:
    """Creates bench tenants over the management API with a few concurrent clients; keeps their tokens."""

    def __init__(self, base: str, upstream_url: str, clients: int) -> None:
        self.base, self.upstream_url, self.clients = base, upstream_url, clients
        with httpx.Client(base_url=base, timeout=30) as http:
            self.jwt = admin_login(http, ADMIN)  # once: logins run the slow password KDF
        self.tokens: list[str] = []
        self.refused: list[str] = []  # 503 answers during set-up (retried)
        self._local = threading.local()
        self._opened: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.base, timeout=60)
            self._opened.append(client)
        return client

    def _create(self, index: int) -> str:
        # 503 = the control database was busy (every service rolls back): try again, and say how often.
        return configure_over_http(
            self.base, self.jwt, tenant=f"bench-{index:04d}", provider=bench_provider(self.upstream_url),
            models=[{"name": MODEL, "upstream_model": "bench-model", "kind": "chat", "input_price_per_1k": 0.001,
                     "output_price_per_1k": 0.002}],
            token_fields={"name": f"bench-{index:04d}"}, http=self._client(), busy_retries=6, busy=self.refused)

    def grow(self, count: int) -> float:
        """Add tenants until there are `count`; returns the seconds it took."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            self.tokens.extend(pool.map(self._create, range(len(self.tokens), count)))
        return time.monotonic() - started

    def close(self) -> None:
        for client in self._opened:
            client.close()


WARM_PASSES_MAX = 12
WARM_SETTLED = 0.9  # a pass that is not 10 % cheaper than the one before: nothing much was left to load


def warm_tenants(base: str, pid: int, tokens: list[str], workers: int = 1, clients: int = 8) -> float | None:
    """One request per tenant not served yet (its first: token, catalogue and client loaded); CPU ms each.

    With several workers the kernel hands each connection to one of them (unevenly), so the tenants
    are served again, pass after pass, until a pass is no longer cheaper than the one before (every worker
    has loaded every tenant): otherwise the first cells pay the other workers' cold starts.
    """
    if not tokens:
        return None

    def first(token: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            http.post(PATH, json=BODIES["chat"], headers={"Authorization": f"Bearer {token}"}).raise_for_status()

    def one_pass() -> float:
        before = cpu_seconds(pid)
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(first, tokens))
        return (cpu_seconds(pid) - before) * 1000 / len(tokens)

    cold = one_pass()
    passes = [cold]
    while workers > 1 and len(passes) < WARM_PASSES_MAX:
        passes.append(one_pass())
        if passes[-1] >= WARM_SETTLED * passes[-2]:
            break
    if len(passes) > 1:
        print("warm-up passes over the new tenants, CPU ms each: " + ", ".join(f"{p:.1f}" for p in passes), flush=True)
    drain(base)  # their usage rows land before the cells count rows
    return cold


def run_cell(base: str, pid: int, data_dir: Path, tokens: list[str], kind: str, concurrency: int, duration: float,
             workdir: Path) -> Cell:
    rows_before = usage_rows(data_dir)
    before = usage_writer(base)
    written_before, batches_before = before["written"], before.get("batches", 0)
    url, body = base + PATH, BODIES[kind]
    with Sampler(pid) as sampler:
        warmup = wrk_tokens(url, body, tokens, concurrency, 1.0, workdir)[0]
        writers = writer_pids(pid)
        cpu_before, loop_before = cpu_seconds(pid), loop_cpu_seconds(pid)
        writer_before = process_cpu_seconds(writers)
        requests, errors, rps, p50, p99 = wrk_tokens(url, body, tokens, concurrency, duration, workdir)
        spent, loop = cpu_seconds(pid) - cpu_before, loop_cpu_seconds(pid) - loop_before
        writer_spent = process_cpu_seconds(writers) - writer_before
        cpu = spent * 1000 / requests if requests else None
        writer_cpu = writer_spent * 1000 / requests if requests else None
        rss = rss_mb(pid)
        rss_gateway, rss_writer = process_rss_mb(serving_pids(pid)), process_rss_mb(writers)
    stats, drained = drain(base)
    completed = warmup + requests
    first = recorded = usage_rows(data_dir) - rows_before
    deadline = time.monotonic() + 15
    while recorded < completed and time.monotonic() < deadline:  # pending 0 yet rows short: late or lost?
        time.sleep(0.25)
        recorded = usage_rows(data_dir) - rows_before
    stats = usage_writer(base) if recorded != first else stats
    trouble = {k: stats[k] for k in ("dropped", "spilled", "rejected", "retried", "failing_tenants") if stats.get(k)}
    if stats["pending"]:
        trouble["pending"] = stats["pending"]
    batches = stats.get("batches", 0) - batches_before
    per_tx = round((stats["written"] - written_before) / batches, 2) if batches > 0 else None
    return Cell(len(tokens), kind, concurrency, requests, warmup, errors, round(rps, 1), round(p50, 3), round(p99, 3),
                round(cpu, 3) if cpu is not None else None, round(loop / spent, 2) if spent else None,
                round(writer_cpu, 3) if writer_cpu is not None else None, round(rss, 1), round(rss_gateway, 1),
                round(rss_writer, 1), len(writers), round(sampler.rss_peak, 1),
                sampler.fds_peak, fd_count(_tree(pid)), round(drained, 2), stats.get("lag_ms_p99"),
                stats.get("lag_ms_max"), recorded, stats["written"] - written_before, per_tx, max(0, completed - recorded),
                max(0, min(recorded, completed) - first), trouble)


HEADER = (f"{'tenants':>7} {'kind':<6}{'conc':>5}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu ms/req':>11}{'loop':>5}"
          f"{'writer':>7}{'rss gw/wr MB':>13}{'fds pk/after':>13}{'lag p99/max ms':>16}{'rows/tx':>8}{'drain s':>8}{'done':>7}{'rows':>7}{'late':>6}{'missing':>8}{'errors':>7}")


def row(c: Cell) -> str:
    cpu = f"{c.cpu_ms_per_request:.3f}" if c.cpu_ms_per_request is not None else "-"
    lag = f"{c.lag_ms_p99:.0f}/{c.lag_ms_max:.0f}" if c.lag_ms_p99 is not None else "-"
    share = f"{c.loop_share:.0%}" if c.loop_share is not None else "-"
    writer = f"{c.writer_cpu_ms_per_request:.3f}" if c.writer_cpu_ms_per_request is not None else "-"
    per_tx = f"{c.rows_per_tx:.2f}" if c.rows_per_tx is not None else "-"
    line = (f"{c.tenants:>7} {c.kind:<6}{c.concurrency:>5}{c.rps:>8.0f}{c.p50_ms:>8.2f}{c.p99_ms:>8.2f}{cpu:>11}"
            f"{share:>5}{writer:>7}{f'{c.rss_gateway_mb:.0f}/{c.rss_writer_mb:.0f}':>13}"
            f"{f'{c.fds_peak}/{c.fds_after}':>13}{lag:>16}{per_tx:>8}{c.drain_s:>8.1f}"
            f"{c.requests + c.warmup_requests:>7}{c.recorded:>7}{c.late:>6}{c.missing:>8}{c.errors:>7}")
    return line + (f"  writer: {c.writer_trouble}" if c.writer_trouble else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--kinds", nargs="+", default=list(BODIES), choices=list(BODIES))
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--setup-clients", type=int, default=4,
                        help="concurrent management API clients (creation is serialised in the gateway: 1, 4 and 8 measured alike)")
    parser.add_argument("--workers", type=int, default=1, help="serve-api --workers (the targets are for one)")
    parser.add_argument("--writer-per-worker", action="store_true",
                        help="WRITER_SHARED=false: a writer process per worker, as before the shared one")
    parser.add_argument("--keep-data", action="store_true", help="keep the gateway's DATA_DIR (deleted by default)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if sorted(args.tenants) != args.tenants or args.tenants[0] < 1:
        sys.exit("--tenants: increasing counts (tenants are added, never removed)")
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-tenants-bench-"))
    data_dir, log = workdir / "data", workdir / "gateway.log"
    upstream_port, port = free_port(), free_port()
    upstream = start([sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)], upstream_port)
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    started = [upstream]
    cells: list[Cell] = []
    setups: list[dict] = []
    failure = ""
    try:
        gateway = start([sys.executable, "-m", "gateway_app", "serve-api", "--host", "127.0.0.1", "--port", str(port),
                         "--workers", str(args.workers)], port,
                        {"DATA_DIR": str(data_dir), "ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                         "LOG_LEVEL": "WARNING", "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream_port}",
                         "WRITER_SHARED": "false" if args.writer_per_worker else "true"}, log)
        started.append(gateway)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"gateway not ready after 60 s; see {log}")
            time.sleep(0.1)
        idle = {"rss_mb": round(rss_mb(gateway.pid), 1), "fds": fd_count(_tree(gateway.pid))}
        print(f"gateway pid {gateway.pid} ({args.workers} worker(s), {len(writer_pids(gateway.pid))} writer "
              f"process(es)), idle: {idle['rss_mb']} MB RSS, {idle['fds']} fds; log {log}", flush=True)
        tenants = Tenants(base, upstream_url, args.setup_clients)
        try:
            for count in args.tenants:
                added = count - len(tenants.tokens)
                seconds = tenants.grow(count)
                setups.append({"tenants": count, "added": added, "seconds": round(seconds, 1),
                               "rss_mb": round(rss_mb(gateway.pid), 1), "fds": fd_count(_tree(gateway.pid))})
                print(f"set-up: +{added} tenants (now {count}) in {seconds:.1f} s "
                      f"({added / seconds if seconds else 0:.1f}/s); gateway {setups[-1]['rss_mb']} MB RSS, "
                      f"{setups[-1]['fds']} fds", flush=True)
                # The cells measure active tenants: each new tenant's first request (its cold start,
                # reported on its own) is served before them.
                cold = warm_tenants(base, gateway.pid, tenants.tokens[count - added:count], args.workers)
                setups[-1]["first_request_cpu_ms"] = round(cold, 2) if cold is not None else None
                if cold is not None:
                    print(f"first request of each new tenant: {cold:.1f} ms of gateway CPU", flush=True)
                print(HEADER, flush=True)
                for kind in args.kinds:
                    for concurrency in args.concurrency:
                        cell = run_cell(base, gateway.pid, data_dir, tenants.tokens[:count], kind, concurrency,
                                        args.duration, workdir)
                        cells.append(cell)
                        print(row(cell), flush=True)
        except (httpx.HTTPError, subprocess.CalledProcessError, StopIteration, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, httpx.HTTPStatusError):
                failure += f" -> {exc.response.text[:300]}"
            print(f"stopped: {failure}", flush=True)
        finally:
            tenants.close()
    finally:
        for proc in reversed(started):
            stop(proc)
    total = time.monotonic() - began
    print()
    print(HEADER)
    for cell in cells:
        print(row(cell))
    setup_total = sum(s["seconds"] for s in setups)
    stages = " + ".join(f"{s['added']} tenants {s['seconds']:.1f} s" for s in setups)
    print(f"\nset-up: {stages} "
          f"= {setup_total:.1f} s ({args.setup_clients} concurrent clients); whole run {total:.0f} s")
    print("fds: gateway process tree, peak sampled under load / after the writer drained; lag: writers.usage over "
          "its last 4096 batches (so earlier cells weigh in); rows/tx: usage rows per tenant transaction over the cell; drain: wrk's exit to writers.usage.pending == 0; "
          "loop: share of the CPU on the main (event-loop) thread, the rest on worker threads; writer: CPU ms/req of "
          "the writer process (included in cpu ms/req); rss gw/wr: gateway process / writer process; "
          "done: requests wrk completed, warm-up included; rows: new model_usage_logs rows; late: rows that "
          "appeared only after pending read 0")
    if tenants.refused:
        print(f"\nset-up: {len(tenants.refused)} management requests answered 503 and were retried: "
              + ", ".join(f"{n} x {what}" for what, n in Counter(r.split(":", 1)[0] for r in tenants.refused).items())
              + f"; first answer: {tenants.refused[0]}")
    logged = Counter(re.sub(r"\[request_id=\S+ tenant_id=\S+ user_id=\S+\] ", "", line[9:])[:160]
                     for line in log.read_text(errors="replace").splitlines()
                     if re.match(r"\d\d:\d\d:\d\d (WARNING|ERROR|CRITICAL) ", line))
    if logged:
        print(f"\ngateway log ({log}), WARNING and above, by message:")
        for message, times in logged.most_common(8):
            print(f"{times:>6} x {message}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tenants-latest.json").write_text(json.dumps(
        {"idle": idle, "setup": setups, "setup_503": tenants.refused, "setup_seconds": round(setup_total, 1),
         "run_seconds": round(total), "setup_clients": args.setup_clients, "duration": args.duration,
         "failure": failure, "gateway_log": dict(logged), "cells": [asdict(c) for c in cells]}, indent=2))
    if not args.keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)
    missing = [c for c in cells if c.missing]
    if missing or failure:
        sys.exit(f"usage records missing in {len(missing)} cell(s): "
                 + ", ".join(f"{c.tenants} tenants {c.kind} c{c.concurrency}: {c.missing}" for c in missing)
                 if missing else f"stopped early: {failure}")


if __name__ == "__main__":
    main()
