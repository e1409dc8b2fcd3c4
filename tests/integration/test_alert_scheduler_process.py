"""The alert scheduler in `serve-api --workers 2`: each slot is evaluated by exactly one worker."""

import re
import time

import httpx

from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "alerts-pass-1234"}


def test_two_workers_evaluate_each_slot_once(tmp_path, upstream):
    log = tmp_path / "serve-api.log"
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], tmp_path / "data", log,
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}",
                                              "ALERTS_INTERVAL_SECONDS": "1", "LOG_FORMAT": "json"})
    try:
        process.wait_ready(timeout=90)
        configure_over_http(process.url, ADMIN, tenant="acme", provider={
            "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
            models=[{"name": "gpt-test", "upstream_model": "fake-chat"}])
        with httpx.Client(base_url=process.url, timeout=10) as http:
            token = http.post("/admin/v1/auth/login", json=ADMIN).json()["access_token"]
            created = http.post("/admin/v1/alerts/rules", headers={"authorization": f"Bearer {token}",
                                                                   "x-tenant-id": "acme"},
                                json={"name": "quiet", "metric": "no_traffic", "window_minutes": 1})
            assert created.status_code == 201
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rule = http.get(f"/admin/v1/alerts/rules/{created.json()['id']}",
                                headers={"authorization": f"Bearer {token}", "x-tenant-id": "acme"}).json()
                slots = re.findall(r'"msg": "alert evaluation".*?"slot": (\d+)', log.read_text())
                if rule["state"] == "critical" and len(slots) >= 5:
                    break
                time.sleep(0.5)
        assert rule["state"] == "critical", "the scheduler evaluated the rule without anyone asking"
        assert len(slots) >= 5 and len(slots) == len(set(slots)), f"a slot evaluated twice: {slots}"
    finally:
        process.stop()
