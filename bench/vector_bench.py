"""Vector store benchmark: ingestion throughput and search latency (not a test).

    .venv/bin/python -m bench.vector_bench [--files 40] [--sizes 10000 100000] [--queries 200]

In one process: the platform on a temporary DATA_DIR (embedded Chroma) and the fake upstream on
loopback in its own process, whose embeddings cost next to nothing (hashed word counts, 256
dimensions). Prints:
- embedding alone: the files' chunks embedded through the inference service, as many calls at once
  as there are ingestion workers: the rate the embedding upstream allows (the bound);
- ingestion: files of ~38 chunks each added as one batch; chunks per second end to end, as a share
  of embedding alone, and the share of the time an embedding call was in flight;
- search at each size (chunks of random unit vectors written straight into one store): p50/p99 of
  the Chroma query alone (embedding excluded) and of the whole search through the service
  (the query embedded through the inference service, included).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from api.app import create_api  # noqa: E402
from gateway_app.core.config import load_settings  # noqa: E402
from gateway_app.services.platform import start_platform, stop_platform  # noqa: E402
from tests.support.api import AdminApi, configure_gateway  # noqa: E402
from tests.support.fake_upstream import Behaviour, FakeUpstream  # noqa: E402

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]


def _text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 999)) for _ in range(words))


def _cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process or another one (Linux /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_LAGS: list[float] = []


async def _loop_lag() -> None:
    """How late a 5 ms timer fires: what every request in this process waits on top of its own work."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        _LAGS.append((time.perf_counter() - started - 0.005) * 1000)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _serve_upstream(conn, delay: float) -> None:
    """The fake upstream in its own process (its work must not count as the gateway's)."""
    upstream = FakeUpstream().start()
    upstream.always(Behaviour(delay=delay))
    conn.send(upstream.port)
    while True:
        time.sleep(3600)


class _Upstream:
    def __init__(self, delay: float) -> None:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(target=_serve_upstream, args=(child, delay),
                                                                 daemon=True)
        self.proc.start()
        self.port = parent.recv()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


async def _run(args) -> None:
    upstream = _Upstream(args.upstream_delay)
    data = Path(tempfile.mkdtemp(prefix="vector-bench-"))
    chroma = None
    if args.chroma_server:
        from tests.support.processes import ChromaServer

        chroma = ChromaServer.start(data / "chroma")
    settings = load_settings(env="test", data_dir=data, admin_email="bench@example.com",
                             admin_password="bench-password-1", log_level="WARNING",
                             provider_allowed_hosts=f"127.0.0.1:{upstream.port}", writer_process=False,
                             vector_ingestion_workers=args.workers, vector_owner_process=not args.in_process,
                             **({"vector_provider": "chroma-server", "chroma_url": chroma.url} if chroma else {}))
    platform = await start_platform(settings, install_signals=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)),
                                     base_url="http://bench") as http:
            admin = AdminApi(http)
            await admin.login("bench@example.com", "bench-password-1")
            setup = await configure_gateway(admin, upstream.url)
            headers = {"Authorization": f"Bearer {setup['token']}"}
            store = (await http.post("/v1/vector_stores", headers=headers, json={"name": "bench"})).json()

            # Ingestion: files of ~25 chunks of 100 tokens.
            ids, texts = [], []
            for n in range(args.files):
                text = _text(n, 1900)
                uploaded = await http.post("/v1/files", headers=headers, data={"purpose": "assistants"},
                                           files={"file": (f"f{n}.txt", text.encode())})
                ids.append(uploaded.json()["id"])
                texts.append(text)

            # The bound: the same chunks embedded through the inference service alone, as many calls
            # at once as there are ingestion workers (no extraction, no Chroma, no rows).
            from gateway_app.services.vector.chunking import chunk_pages

            identity = await platform.token_resolver.resolve(setup["token"])
            embedder = platform.ingestion._embedder  # noqa: SLF001 - the same embedding path
            pending = [[c.text for c in chunk_pages([t], 100, 0)] for t in texts]
            model = store["embedding_model"]

            async def embed_some() -> None:
                while pending:
                    await embedder.embed(identity, model, pending.pop(), "bench")

            started = time.perf_counter()
            await asyncio.gather(*(embed_some() for _ in range(settings.vector_ingestion_workers)))
            alone = time.perf_counter() - started

            busy, in_flight, since = 0.0, 0, 0.0
            embed = embedder.embed

            async def timed(*a, **kw):
                nonlocal busy, in_flight, since
                if in_flight == 0:
                    since = time.perf_counter()
                in_flight += 1
                try:
                    return await embed(*a, **kw)
                finally:
                    in_flight -= 1
                    if in_flight == 0:
                        busy += time.perf_counter() - since

            embedder.embed = timed
            await asyncio.to_thread(platform.vector_layer.count, "acme", store["id"])  # the owner is up
            owner = getattr(platform.vector_layer, "_manager", None)
            owner_pid = owner._process.pid if owner is not None else None  # noqa: SLF001
            lag = asyncio.create_task(_loop_lag())
            started, cpu_gateway, cpu_upstream = time.perf_counter(), _cpu(), _cpu(upstream.proc.pid)
            cpu_owner = _cpu(owner_pid) if owner_pid else 0.0
            await http.post(f"/v1/vector_stores/{store['id']}/file_batches", headers=headers,
                            json={"file_ids": ids, "chunking_strategy": {
                                "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}})
            while True:
                got = (await http.get(f"/v1/vector_stores/{store['id']}", headers=headers)).json()
                if not got["file_counts"]["in_progress"]:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu_gateway, cpu_upstream = _cpu() - cpu_gateway, _cpu(upstream.proc.pid) - cpu_upstream
            cpu_owner = _cpu(owner_pid) - cpu_owner if owner_pid else 0.0
            lag.cancel()
            lags = await asyncio.gather(lag, return_exceptions=True)
            stalls = _LAGS
            chunks = platform.vector_layer.count("acme", store["id"])
            print(f"embedding alone: {chunks} chunks in {alone:.2f} s = {chunks / alone:,.0f} chunks/s "
                  f"({settings.vector_ingestion_workers} calls at a time)")
            print(f"ingestion: {args.files} files, {chunks} chunks in {elapsed:.2f} s = {chunks / elapsed:,.0f} "
                  f"chunks/s = {alone / elapsed:.0%} of embedding alone; an embedding call in flight "
                  f"{busy / elapsed:.0%} of the time ({got['file_counts']['completed']} completed, "
                  f"{got['file_counts']['failed']} failed, {platform.ingestion._writer.writes} Chroma writes)")
            print(f"ingestion CPU: gateway {cpu_gateway / elapsed:.0%} of a core, {cpu_gateway / chunks * 1000:.2f} ms a "
                  f"chunk; Chroma's owner process {cpu_owner / elapsed:.0%} of a core, {cpu_owner / chunks * 1000:.2f} "
                  f"ms a chunk; upstream {cpu_upstream / elapsed:.0%} of a core, "
                  f"{cpu_upstream / chunks * 1000:.2f} ms a chunk")
            print(f"event loop during ingestion (a 5 ms timer): late by p50 {statistics.median(stalls):.1f} ms, "
                  f"p99 {_pct(stalls, 0.99):.1f} ms, max {max(stalls):.1f} ms "
                  f"({platform.vector_layer.mode})")
            del lags

            # Search latency at each size.
            rng = random.Random(7)
            size_store = None
            written = 0
            for size in args.sizes:
                if size_store is None:
                    size_store = (await http.post("/v1/vector_stores", headers=headers, json={"name": "big"})).json()
                while written < size:
                    step = min(5000, size - written)
                    vectors = []
                    for _ in range(step):
                        v = [rng.gauss(0, 1) for _ in range(256)]
                        norm = sum(x * x for x in v) ** 0.5
                        vectors.append([x / norm for x in v])
                    await asyncio.to_thread(platform.vector_layer.upsert, "acme", size_store["id"],
                                            [f"r{written + i}" for i in range(step)], vectors,
                                            [_text(written + i, 40) for i in range(step)],
                                            [{"file_id": "", "chunk": 0} for _ in range(step)])
                    written += step
                with platform.store.tenant("acme") as uow:
                    uow.vector_stores.update(size_store["id"], {"dimensions": 256})
                    uow.commit()
                alone, whole = [], []
                for q in range(args.queries):
                    v = [rng.gauss(0, 1) for _ in range(256)]
                    t = time.perf_counter()
                    await asyncio.to_thread(platform.vector_layer.query, "acme", size_store["id"], v, 10, None)
                    alone.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    response = await http.post(f"/v1/vector_stores/{size_store['id']}/search", headers=headers,
                                               json={"query": _text(q, 8), "max_num_results": 10})
                    whole.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.text
                print(f"search at {size:,} chunks: Chroma query p50 {statistics.median(alone):.1f} ms, "
                      f"p99 {_pct(alone, 0.99):.1f} ms (embedding excluded); whole search p50 "
                      f"{statistics.median(whole):.1f} ms, p99 {_pct(whole, 0.99):.1f} ms (embedding included)")
    finally:
        await stop_platform(platform)
        upstream.stop()
        if chroma is not None:
            chroma.proc.terminate()
            chroma.proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="ingestion workers (VECTOR_INGESTION_WORKERS)")
    parser.add_argument("--upstream-delay", type=float, default=0.0,
                        help="seconds the fake upstream takes per call (0: zero latency)")
    parser.add_argument("--chroma-server", action="store_true", help="a Chroma server (chroma run) on loopback")
    parser.add_argument("--in-process", action="store_true",
                        help="embedded Chroma in the serving process (VECTOR_OWNER_PROCESS=false)")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
