"""Gateway overhead benchmark: the fake upstream alone vs Gatehouse (1 and 2 workers) [vs LiteLLM].

    .venv/bin/python -m bench.gateway_bench [--duration 5] [--concurrency 1 16 64]

Prints, for non-streamed chat, streamed chat (8 chunks, 1 ms apart) and embeddings: requests/s,
p50/p99 latency, the gateway's CPU milliseconds per request and its RSS after load. Needs `wrk`
(Debian package). Set LITELLM_BIN to a `litellm` executable (separate venv) to add LiteLLM.
Results also go to bench/results/latest.json. Nothing here is a test: figures vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.processes import free_port, wait_for_port  # noqa: E402
from tests.support.servers import configure_over_http  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KINDS = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hello, how are you today?"}]}),
    "stream": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hello, how are you today?"}],
                                        "stream": True}),
    "embed": ("/v1/embeddings", {"input": "The quick brown fox jumps over the lazy dog."}),
}
UPSTREAM_MODEL = {"chat": "bench-model", "stream": "bench-model", "embed": "bench-embed"}
GATEWAY_MODEL = {"chat": "bench-chat", "stream": "bench-chat", "embed": "bench-embed"}
ADMIN = {"email": "bench@example.com", "password": "bench-password-1"}
BENCH_MODELS = [{"name": "bench-chat", "upstream_model": "bench-model", "kind": "chat",
                 "input_price_per_1k": 0.001, "output_price_per_1k": 0.002},
                {"name": "bench-embed", "upstream_model": "bench-embed", "kind": "embedding",
                 "input_price_per_1k": 0.001, "output_price_per_1k": 0.002}]


def bench_provider(upstream_url: str, name: str = "up") -> dict:
    """Body of the benchmark's provider: the fake upstream, no retries."""
    return {"name": name, "type": "openai-compatible", "base_url": upstream_url, "api_key": "sk-bench-0000",
            "options": {"max_retries": 0}}


@dataclass
class Result:
    target: str
    kind: str
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    rss_mb: float | None


def _tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree."""
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mb(pid: int) -> float:
    """Largest resident set of the tree's processes (per-worker figure)."""
    sizes = []
    for member in _tree(pid):
        try:
            sizes.append(int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE / 2**20)
        except OSError:
            continue
    return max(sizes) if sizes else 0.0


def wrk(url: str, body: dict, token: str | None, concurrency: int, duration: float, workdir: Path) -> tuple:
    script = workdir / "bench.lua"
    headers = 'wrk.headers["Content-Type"] = "application/json"\n'
    if token:
        headers += f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n{headers}'
        'done = function(summary, latency, requests)\n'
        '  local e = summary.errors\n'
        '  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests, e.connect + e.read + e.write + '
        'e.status + e.timeout, latency:percentile(50), latency:percentile(99), summary.duration))\nend\n')
    threads = min(concurrency, 2)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    line = next(li for li in out.splitlines() if li.startswith("RESULT"))
    requests, errors, p50, p99, micros = line.split()[1:]
    seconds = float(micros) / 1e6
    return int(requests), int(errors), int(requests) / seconds, float(p50) / 1000, float(p99) / 1000


def measure(target: str, base: str, kind: str, model: str, token: str | None, concurrency: int,
            duration: float, pid: int | None, workdir: Path) -> Result:
    path, body = KINDS[kind]
    body = {**body, "model": model}
    wrk(base + path, body, token, concurrency, 1.0, workdir)  # warm-up: pools, caches, JIT-free paths
    before = cpu_seconds(pid) if pid else None
    requests, errors, rps, p50, p99 = wrk(base + path, body, token, concurrency, duration, workdir)
    cpu = (cpu_seconds(pid) - before) * 1000 / requests if pid and requests else None
    return Result(target, kind, concurrency, requests, errors, round(rps, 1), round(p50, 3), round(p99, 3),
                  round(cpu, 3) if cpu is not None else None, round(rss_mb(pid), 1) if pid else None)


def start(command: list[str], port: int, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    with open(log or os.devnull, "wb") as handle:  # the child keeps its own descriptor
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_port(port, timeout=60, proc=proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def start_gateway(workers: int, upstream_url: str, workdir: Path, name: str = "",
                  extra_env: dict | None = None) -> tuple[subprocess.Popen, str, str]:
    """A serve-api on a free port, configured with the bench tenant; its process, base URL and token."""
    port = free_port()
    name = name or str(workers)
    data = workdir / f"data-{name}"
    env = {"DATA_DIR": str(data), "ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
           "LOG_LEVEL": "WARNING", "PROVIDER_ALLOWED_HOSTS": urlsplit(upstream_url).netloc, **(extra_env or {})}
    proc = start([sys.executable, "-m", "gateway_app", "serve-api", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", str(workers)], port, env, workdir / f"gateway-{name}.log")
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(base + "/health/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    token = configure_over_http(base, ADMIN, tenant="bench", provider=bench_provider(upstream_url),
                                models=BENCH_MODELS, token_fields={"name": "bench"})
    return proc, base, token


def start_litellm(upstream_url: str, workdir: Path) -> tuple[subprocess.Popen, str, str] | None:
    binary = os.environ.get("LITELLM_BIN")
    if not binary:
        return None
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench-chat\n    litellm_params: {model: openai/bench-model, api_base: " + upstream_url +
        ", api_key: sk-bench}\n"
        "  - model_name: bench-embed\n    litellm_params: {model: openai/bench-embed, api_base: " + upstream_url +
        ", api_key: sk-bench}\n")
    master = "sk-bench-master-key-0123456789abcdef"
    proc = start([binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
                 port, {"LITELLM_MASTER_KEY": master, "LITELLM_TELEMETRY": "False"}, workdir / "litellm.log")
    return proc, f"http://127.0.0.1:{port}", master


def table(results: list[Result]) -> str:
    lines = [f"{'target':<14}{'kind':<8}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/req':>12}"
             f"{'rss MB':>8}{'errors':>8}"]
    for r in results:
        cpu = f"{r.cpu_ms_per_request:.3f}" if r.cpu_ms_per_request is not None else "-"
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else "-"
        lines.append(f"{r.target:<14}{r.kind:<8}{r.concurrency:>5}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
                     f"{cpu:>12}{rss:>8}{r.errors:>8}")
    return "\n".join(lines)


def metrics_cost(results: list[Result]) -> list[str]:
    """CPU per request with metrics minus without, per kind and concurrency, where both were measured."""
    cpu = {(r.target, r.kind, r.concurrency): r.cpu_ms_per_request for r in results}
    lines = []
    for (target, kind, concurrency), on in cpu.items():
        off = cpu.get(("1w-no-metrics", kind, concurrency))
        if target == "gatehouse-1w" and on is not None and off is not None:
            lines.append(f"{kind} c{concurrency} {on - off:+.3f} ({on:.3f} vs {off:.3f})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-metrics-arm", action="store_true",
                        help="skip the 1-worker gateway with METRICS_ENABLED=false (what metrics cost)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    upstream_port = free_port()
    upstream = start([sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)], upstream_port)
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    results: list[Result] = []
    targets: list[tuple[str, subprocess.Popen | None, str, str | None, dict]] = [
        ("direct", None, f"http://127.0.0.1:{upstream_port}", None, UPSTREAM_MODEL)]
    started: list[subprocess.Popen] = [upstream]
    try:
        for workers in args.workers:
            proc, base, token = start_gateway(workers, upstream_url, workdir)
            started.append(proc)
            targets.append((f"gatehouse-{workers}w", proc, base, token, GATEWAY_MODEL))
        if not args.no_metrics_arm:
            proc, base, token = start_gateway(1, upstream_url, workdir, name="nometrics",
                                              extra_env={"METRICS_ENABLED": "false"})
            started.append(proc)
            targets.append(("1w-no-metrics", proc, base, token, GATEWAY_MODEL))
        litellm = start_litellm(upstream_url, workdir)
        if litellm:
            started.append(litellm[0])
            targets.append(("litellm-1w", litellm[0], litellm[1], litellm[2], GATEWAY_MODEL))
        for kind in args.kinds:
            for concurrency in args.concurrency:
                for name, proc, base, token, models in targets:
                    result = measure(name, base, kind, models[kind], token, concurrency, args.duration,
                                     proc.pid if proc else upstream.pid if name == "direct" else None, workdir)
                    results.append(result)
                    print(table([result]).splitlines()[1], flush=True)
    finally:
        for proc in reversed(started):
            stop(proc)
    print()
    print(table(results))
    cost = metrics_cost(results)
    if cost:
        print("\nWhat /metrics costs (gatehouse-1w minus 1w-no-metrics, CPU ms per request): " + ", ".join(cost))
    if not os.environ.get("LITELLM_BIN"):
        print("\n(LiteLLM not measured: set LITELLM_BIN to a litellm executable installed in its own venv)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
