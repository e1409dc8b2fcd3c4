"""`serve-api --workers 2` with embedded Chroma and no Chroma server: both workers ingest and search
one store through the master's single owner of the vector files, and nothing is left running."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai

from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "vector-workers-1"}


def test_two_workers_ingest_and_search_one_store(tmp_path, upstream_server):
    data_dir = tmp_path / "data"
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], data_dir,
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream_server.port}"})
    try:
        process.wait_ready(timeout=90)
        token = configure_over_http(process.url, ADMIN, tenant="acme",
                                    provider={"name": "fake", "type": "openai-compatible",
                                              "base_url": upstream_server.url},
                                    models=[{"name": "embed-test", "upstream_model": "fake-embed",
                                             "kind": "embedding"}])

        def client() -> openai.OpenAI:
            # A client (and so a connection) per call: the calls spread over both workers.
            return openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=60,
                                 http_client=httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)))

        store = client().vector_stores.create(name="shared")
        topics = ["apples orchard", "bicycle repair", "cello lessons", "dolphin watching", "espresso machine",
                  "falcon training", "glacier hiking", "harbour ferry"]

        def add(topic: str):
            return client().vector_stores.files.upload_and_poll(
                vector_store_id=store.id, file=(f"{topic.split()[0]}.txt", f"All about {topic}.".encode()),
                poll_interval_ms=50)

        with ThreadPoolExecutor(8) as pool:
            done = list(pool.map(add, topics))
        assert [f.status for f in done] == ["completed"] * len(topics), [f.last_error for f in done]
        assert client().vector_stores.retrieve(store.id).file_counts.completed == len(topics)

        def best(topic: str) -> str:
            return client().vector_stores.search(vector_store_id=store.id, query=topic).data[0].filename

        with ThreadPoolExecutor(4) as pool:
            found = list(pool.map(best, topics * 3))
        assert found == [f"{t.split()[0]}.txt" for t in topics * 3]
        # The single-process layout: one directory per tenant, whichever worker wrote.
        assert (data_dir / "vectors" / "acme").is_dir()
    finally:
        process.stop()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(process.proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("a process of the server (the vector owner?) is still running")
