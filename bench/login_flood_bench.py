"""Does a login flood slow the hot path? /v1/models latency alone, then during floods of logins.

    .venv/bin/python -m bench.login_flood_bench [--requests 400] [--flooders 8]

One serve-api worker. Prints p50/p99 of /v1/models (a cache hit: no database, no upstream) with no
flood, with a flood of wrong passwords (throttled: 429 before any hashing) and with a flood of
correct passwords (every one hashed, on the bounded password executor). The flooders are separate
processes, and the machine's cores are shared by everyone, so read the figures side by side. Not a test: figures vary.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.servers import GatewayProcess  # noqa: E402

ADMIN = {"email": "bench@example.com", "password": "bench-password-1"}


def _latencies(url: str, token: str, count: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for _ in range(count):
            started = time.perf_counter()
            assert http.get("/v1/models").status_code == 200
            out.append((time.perf_counter() - started) * 1000)
    return out


def _flood(url: str, body: dict, stop, counts) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            status = http.post("/admin/v1/auth/login", json=body).status_code
            counts.append(status)


def _measure(url: str, token: str, count: int, flooders: int, body: dict | None) -> tuple[list[float], dict]:
    # Flooders run in their own processes: in this one they would hold the GIL the measuring client needs.
    with multiprocessing.Manager() as manager:
        stop, counts = manager.Event(), manager.list()
        procs = [multiprocessing.Process(target=_flood, args=(url, body, stop, counts))
                 for _ in range(flooders if body else 0)]
        for proc in procs:
            proc.start()
        time.sleep(1.0 if body else 0)
        try:
            latencies = _latencies(url, token, count)
        finally:
            stop.set()
            for proc in procs:
                proc.join()
        return latencies, dict(collections.Counter(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--flooders", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "1"], Path(tmp) / "data",
                                      Path(tmp) / "log", extra_env={"ADMIN_EMAIL": ADMIN["email"],
                                                                    "ADMIN_PASSWORD": ADMIN["password"],
                                                                    "LOG_LEVEL": "WARNING"})
        try:
            server.wait_ready(60)
            with httpx.Client(base_url=server.url, timeout=30) as http:
                jwt = http.post("/admin/v1/auth/login", json=ADMIN).json()["access_token"]
                headers = {"Authorization": f"Bearer {jwt}"}
                http.post("/admin/v1/tenants", headers=headers, json={"slug": "bench", "name": "Bench"})
                token = http.post("/admin/v1/api-tokens", headers={**headers, "X-Tenant-Id": "bench"},
                                  json={"name": "bench"}).json()["token"]
            _latencies(server.url, token, 50)  # warm up
            # Correct passwords first: the wrong-password flood locks this address for a while afterwards.
            scenarios = [("no flood", None), ("correct passwords", ADMIN),
                         ("wrong passwords", {**ADMIN, "password": "wrong"})]
            print(f"/v1/models, {args.requests} sequential requests, {args.flooders} login flooders, 1 worker")
            print(f"{'scenario':<20} {'p50 ms':>8} {'p99 ms':>8}   login answers during the run")
            for name, body in scenarios:
                latencies, counts = _measure(server.url, token, args.requests, args.flooders, body)
                cut = statistics.quantiles(latencies, n=100)
                answers = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items())) or "-"
                print(f"{name:<20} {statistics.median(latencies):>8.2f} {cut[98]:>8.2f}   {answers}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
