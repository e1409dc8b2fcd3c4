"""/metrics of `serve-api --workers 2`: what both workers counted, summed, whichever answers the scrape."""

import time

import httpx

from tests.support.prometheus import samples, total
from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "metrics-pass-123"}
REQUESTS = 60


def test_two_workers_count_every_request_once(tmp_path, upstream):
    data_dir = tmp_path / "data"
    stale = data_dir / "metrics" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier run")
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], data_dir,
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}",
                                              "METRICS_TOKEN": "scrape-token-1234"})
    try:
        process.wait_ready(timeout=90)
        assert not stale.exists(), "values of an earlier run are not summed into this one"
        token = configure_over_http(process.url, ADMIN, tenant="acme", provider={
            "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
            models=[{"name": "gpt-test", "upstream_model": "fake-chat"}])
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over both workers
            with httpx.Client(base_url=process.url, timeout=10) as http:
                answer = http.post("/v1/chat/completions", headers={"authorization": f"Bearer {token}"},
                                   json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]})
                assert answer.status_code == 200
        def scrape() -> float:
            with httpx.Client(base_url=process.url, timeout=10) as http:
                scraped = http.get("/metrics", headers={"authorization": "Bearer scrape-token-1234"})
            assert scraped.status_code == 200
            return total(samples(scraped.text), "gatehouse_requests_total", tenant="acme", model="gpt-test",
                         outcome="ok")

        deadline = time.monotonic() + 10
        while scrape() < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.2)  # each worker hands its counts over every second
        counted = {scrape() for _ in range(6)}  # scrapes land on either worker: each must see the sum
        assert counted == {REQUESTS}
        writers = {p.name.split("_")[-1] for p in (data_dir / "metrics").glob("counter_*.db")}
        assert len(writers) >= 2, "both workers counted (one file per process)"
        with httpx.Client(base_url=process.url, timeout=10) as http:
            assert http.get("/metrics").status_code == 401
    finally:
        process.stop()
