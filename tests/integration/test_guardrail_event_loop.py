"""A megabyte of adversarial text through the real `serve-api` process: while its guardrail policy
is evaluated, the same (single) worker keeps answering /health/live."""

import random
import threading
import time

import httpx
import pytest

from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "serve-api-pass-1"}
# Random a/b: the old e-mail detector backtracks quadratically on it (the loop froze for minutes), and
# this tenant pattern makes RE2 leave its DFA for the NFA, so the evaluation lasts about a second.
SLOW_RULE = {"type": "regex", "pattern": r"[ab]*a[ab]{120}", "action": "flag", "direction": "input"}


@pytest.fixture
def served(tmp_path, upstream):
    """serve-api (one worker) with a token whose policy scans input and output."""
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "1"], tmp_path / "data",
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}"})
    process.wait_ready(timeout=60)
    token = configure_over_http(process.url, ADMIN, tenant="acme", provider={
        "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
        models=[{"name": "gpt-test", "upstream_model": "fake-chat"}],
        guardrails=[{"name": "heavy", "rules": [{"type": "pii", "action": "mask"}, SLOW_RULE]}],
        token_fields={"name": "svc", "guardrails": ["heavy"]})
    yield process, token
    process.stop()


@pytest.mark.timeout(240)
def test_health_answers_while_a_megabyte_is_evaluated(served):
    process, token = served
    rng = random.Random(11)
    text = "".join(rng.choice("ab") for _ in range(999_000))  # the echoed answer stays under the cap
    outcome: dict = {}

    def chat() -> None:
        outcome["started"] = time.monotonic()
        try:
            outcome["response"] = httpx.post(process.url + "/v1/chat/completions", timeout=180,
                                             headers={"Authorization": f"Bearer {token}"},
                                             json={"model": "gpt-test", "messages": [{"role": "user",
                                                                                       "content": text}]})
        finally:
            outcome["ended"] = time.monotonic()

    worker = threading.Thread(target=chat)
    probes: list[tuple[float, float, int]] = []  # (sent, answered, status)
    with httpx.Client(base_url=process.url, timeout=10) as http:
        worker.start()
        while worker.is_alive():
            sent = time.monotonic()
            status = http.get("/health/live").status_code  # a timeout here fails the test: the loop froze
            probes.append((sent, time.monotonic(), status))
            time.sleep(0.02)
    worker.join()
    response = outcome["response"]
    assert response.status_code == 200, response.text[:500]
    assert response.headers.get("x-request-id")
    during = [p for p in probes if outcome["started"] <= p[0] and p[1] <= outcome["ended"]]
    assert all(status == 200 for _, _, status in probes)
    assert len(during) >= 5, f"only {len(during)} health answers in {outcome['ended'] - outcome['started']:.2f}s"
    worst = max(answered - sent for sent, answered, _ in during)
    print(f"\nchat took {outcome['ended'] - outcome['started']:.2f}s; {len(during)} health answers meanwhile, "
          f"slowest {worst * 1000:.0f} ms")
