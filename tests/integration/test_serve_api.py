"""The API-only server as a real process: health, login, tenants, tokens, revocation across
workers (memory cache, no Redis) and a clean SIGTERM shutdown."""

import ipaddress
import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port
from tests.support.servers import GatewayProcess

ADMIN = {"email": "ops@example.com", "password": "serve-api-pass-1"}


@pytest.fixture
def server(tmp_path):
    data_dir = tmp_path / "data"
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], data_dir,
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "LOG_FORMAT": "json", "ALLOW_PRIVATE_UPSTREAMS": "true"})
    process.wait_ready(timeout=60)
    yield process
    process.stop()


def _writer_processes(data_dir: str) -> list[int]:
    """Usage writer processes serving this data directory (their command line carries it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gateway_app.core.writer_process" in argv and any(data_dir.encode() in arg for arg in argv):
            found.append(int(entry.name))
    return found


def test_serve_api_end_to_end_and_graceful_shutdown(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        ready = http.get("/health/ready").json()
        assert ready["status"] == "ready" and ready["checks"]["database"]["status"] == "up"
        # Both workers feed one writer process (one transaction per tenant per second for the host).
        writers = _writer_processes(json.dumps(server.env["DATA_DIR"]))
        assert len(writers) == 1, writers

        jwt = http.post("/admin/v1/auth/login", json=ADMIN).json()["access_token"]
        admin = {"Authorization": f"Bearer {jwt}"}
        assert http.post("/admin/v1/tenants", headers=admin, json={"slug": "acme", "name": "Acme"}).status_code == 201
        bad = http.post("/admin/v1/tenants", headers=admin, json={"slug": "../x", "name": "x"})
        assert bad.status_code == 422 and "slug" in bad.text
        scoped = {**admin, "X-Tenant-Id": "acme"}
        assert http.post("/admin/v1/users", headers=scoped, json={"email": "dev@acme.io"}).status_code == 201
        token = http.post("/admin/v1/api-tokens", headers=scoped, json={"name": "svc"}).json()
        bearer = {"Authorization": f"Bearer {token['token']}"}

        # Private upstreams are allowed here, but never the gateway's own listener (it would call itself).
        own = http.post("/admin/v1/providers", headers=scoped, json={
            "name": "self", "type": "openai-compatible", "base_url": f"{server.url}/v1"})
        assert own.status_code == 422 and "own listener" in own.json()["detail"], own.text
        elsewhere = http.post("/admin/v1/providers", headers=scoped, json={
            "name": "local", "type": "openai-compatible", "base_url": f"http://127.0.0.1:{free_port()}/v1"})
        assert elsewhere.status_code == 201, elsewhere.text
        hostname = socket.gethostname()
        if ipaddress.ip_address(socket.gethostbyname(hostname)).is_loopback:  # a name: checked when connecting
            http.post("/admin/v1/providers", headers=scoped, json={
                "name": "self", "type": "openai-compatible",
                "base_url": f"http://{hostname}:{server.port}/v1"}).raise_for_status()
            test = http.post("/admin/v1/providers/self/test", headers=scoped).json()
            assert not test["ok"] and "own listener" in test["error"], test

        # New connections each time so both workers see traffic and cache the token.
        statuses = [httpx.get(server.url + "/v1/models", headers=bearer).status_code for _ in range(20)]
        assert statuses == [200] * 20
        assert http.delete(f"/admin/v1/api-tokens/{token['id']}", headers=scoped).status_code == 200
        statuses = [httpx.get(server.url + "/v1/models", headers=bearer).status_code for _ in range(20)]
        assert statuses == [401] * 20, "revocation must reach every worker before its next request"

    assert server.terminate(timeout=30) == 0
    assert _writer_processes(json.dumps(server.env["DATA_DIR"])) == [], "the shared writer stops with the master"
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    assert messages.count("gatehouse started") == 2
    assert messages.count("shutdown complete") == 2, server.log_tail()
    assert all(line["request_id"] for line in lines if line["msg"] == "request")


def test_logout_ends_the_session_in_every_worker(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        jwt = http.post("/admin/v1/auth/login", json=ADMIN).json()["access_token"]
    bearer = {"Authorization": f"Bearer {jwt}"}
    # New connections each time so both workers see (and cache) the session.
    assert [httpx.get(server.url + "/admin/v1/auth/me", headers=bearer).status_code for _ in range(20)] == [200] * 20
    assert httpx.post(server.url + "/admin/v1/auth/logout", headers=bearer).status_code == 204
    statuses = [httpx.get(server.url + "/admin/v1/auth/me", headers=bearer).status_code for _ in range(20)]
    assert statuses == [401] * 20, "a logged-out session must end in every worker before its next request"


@pytest.mark.redis
def test_failed_logins_are_counted_across_workers_with_redis(tmp_path, redis_server):
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], tmp_path / "data",
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "CACHE_PROVIDER": "redis", "REDIS_URL": redis_server.url})
    try:
        process.wait_ready(timeout=60)
        wrong = {"email": ADMIN["email"], "password": "wrong"}
        # New connections: the attempts land on both workers, which share the counts through Redis.
        answers = []
        while len(answers) < 12 and (not answers or answers[-1].status_code != 429):
            answers.append(httpx.post(process.url + "/admin/v1/auth/login", json=wrong))
        statuses = [a.status_code for a in answers]
        assert statuses[:5] == [401] * 5, statuses  # free attempts, whichever worker took them
        assert statuses[-1] == 429 and len(statuses) <= 9, statuses  # one worker alone would allow 10
        assert int(answers[-1].headers["retry-after"]) >= 1
    finally:
        process.stop()
