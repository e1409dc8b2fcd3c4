"""Vector store benchmark: ingestion throughput and search latency (not a test).

    .venv/bin/python -m bench.vector_bench [--files 40] [--sizes 10000 100000] [--queries 200]

In one process: the platform on a temporary DATA_DIR (embedded Chroma) and the fake upstream on
loopback in its own process, whose embeddings cost next to nothing (hashed word counts, 256
dimensions). Prints:
- ingestion: files of ~25 chunks each added at once; chunks per second end to end, and the share
  of that time spent waiting for the embedding upstream;
- search at each size (chunks of random unit vectors written straight into one store): p50/p99 of
  the Chroma query alone (embedding excluded) and of the whole search through the service
  (the query embedded through the inference service, included).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
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
from tests.support.fake_upstream import FakeUpstream  # noqa: E402

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]


def _text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 999)) for _ in range(words))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _serve_upstream(conn) -> None:
    """The fake upstream in its own process (its work must not count as the gateway's)."""
    upstream = FakeUpstream().start()
    conn.send(upstream.port)
    while True:
        time.sleep(3600)


class _Upstream:
    def __init__(self) -> None:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(target=_serve_upstream, args=(child,), daemon=True)
        self.proc.start()
        self.port = parent.recv()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


async def _run(args) -> None:
    upstream = _Upstream()
    data = Path(tempfile.mkdtemp(prefix="vector-bench-"))
    settings = load_settings(env="test", data_dir=data, admin_email="bench@example.com",
                             admin_password="bench-password-1", log_level="WARNING",
                             provider_allowed_hosts=f"127.0.0.1:{upstream.port}", writer_process=False)
    owner = None
    if args.owner:
        from gateway_app.services.vector.vector_owner import start_owner

        owner = start_owner(data / "vectors")
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
            waited = 0.0
            embed = platform.ingestion._embedder.embed  # noqa: SLF001 - timing the embedding calls

            async def timed(*a, **kw):
                nonlocal waited
                started = time.perf_counter()
                try:
                    return await embed(*a, **kw)
                finally:
                    waited += time.perf_counter() - started

            platform.ingestion._embedder.embed = timed  # noqa: SLF001
            ids = []
            for n in range(args.files):
                uploaded = await http.post("/v1/files", headers=headers, data={"purpose": "assistants"},
                                           files={"file": (f"f{n}.txt", _text(n, 1900).encode())})
                ids.append(uploaded.json()["id"])
            started = time.perf_counter()
            await http.post(f"/v1/vector_stores/{store['id']}/file_batches", headers=headers,
                            json={"file_ids": ids, "chunking_strategy": {
                                "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}})
            while True:
                got = (await http.get(f"/v1/vector_stores/{store['id']}", headers=headers)).json()
                if not got["file_counts"]["in_progress"]:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            chunks = platform.vector_layer.count("acme", store["id"])
            print(f"ingestion: {args.files} files, {chunks} chunks in {elapsed:.2f} s = {chunks / elapsed:,.0f} "
                  f"chunks/s; waiting for the embedding upstream: {waited / elapsed:.0%} of the time "
                  f"({got['file_counts']['completed']} completed, {got['file_counts']['failed']} failed)")

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
        if owner is not None:
            owner.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--owner", action="store_true", help="Chroma in its own process (the vector owner)")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
