"""A SQLite deployment moved to MongoDB with `copy-store`, then `serve-api` on MongoDB: the same admin, token,
usage; a deleted tenant's database dropped; /health/ready reporting the database when MongoDB goes away."""

import subprocess
import sys
import time

import httpx
import openai
import pytest
from pymongo import MongoClient

from tests.support.processes import MongoWireServer
from tests.support.servers import ROOT, GatewayProcess, admin_login, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "serve-api-pass-1"}


@pytest.fixture
def wire_server(tmp_path):
    """A wire server of this test's own: the test stops it."""
    server = MongoWireServer.start(tmp_path / "mongo")
    yield server
    server.stop()


def _serve(tmp_path, data_dir, upstream, name: str, env: dict) -> GatewayProcess:
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1"], data_dir, tmp_path / f"{name}.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}", **env})
    process.wait_ready(timeout=60)
    return process


def _requests(http: httpx.Client, jwt: str, tenant: str, expected: int) -> list[dict]:
    """The tenant's usage rows once `expected` of them are visible (writers flush off the request path)."""
    deadline = time.monotonic() + 20
    while True:
        rows = http.get("/admin/v1/usage/requests", headers={"Authorization": f"Bearer {jwt}", "X-Tenant-Id": tenant},
                        params={"limit": 100}).json()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_copy_store_then_serve_api_on_mongodb(tmp_path, upstream, wire_server):
    data_dir = tmp_path / "data"
    mongo_env = {"DB_PROVIDER": "mongodb", "MONGODB_URI": wire_server.uri, "MONGODB_DB_PREFIX": "move_",
                 "MONGODB_TIMEOUT_MS": "1000"}

    # A SQLite deployment with traffic.
    sqlite = _serve(tmp_path, data_dir, upstream, "sqlite", {})
    token = configure_over_http(sqlite.url, ADMIN, tenant="acme", provider={
        "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
        models=[{"name": "gpt-test", "upstream_model": "fake-chat"}])
    configure_over_http(sqlite.url, ADMIN, tenant="globex", provider={
        "name": "fake", "type": "openai-compatible", "base_url": upstream.url}, models=[])
    client = openai.OpenAI(base_url=sqlite.url + "/v1", api_key=token, max_retries=0)
    for i in range(3):
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": f"before {i}"}])
    with httpx.Client(base_url=sqlite.url, timeout=10) as http:
        before = _requests(http, admin_login(http, ADMIN), "acme", 3)
    assert len(before) == 3
    assert sqlite.terminate() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown

    # Copy it.
    copied = subprocess.run([sys.executable, "-m", "gateway_app", "copy-store", "--to", "mongodb"], cwd=ROOT,
                            env={**sqlite.env, "MONGODB_URI": wire_server.uri, "MONGODB_DB_PREFIX": "move_"},
                            capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    assert "copied move_tenant_acme: " in copied.stdout and "model_usage_logs 3" in copied.stdout
    assert "verified" in copied.stdout
    again = subprocess.run([sys.executable, "-m", "gateway_app", "copy-store", "--to", "mongodb"], cwd=ROOT,
                           env={**sqlite.env, "MONGODB_URI": wire_server.uri, "MONGODB_DB_PREFIX": "move_"},
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already holds a deployment" in again.stderr and "Traceback" not in again.stderr

    # Serve on MongoDB: the same admin password, token, provider key and usage history.
    (data_dir / "console_main.sqlite").rename(tmp_path / "console_main.sqlite.moved")  # nothing may read it now
    mongo = _serve(tmp_path, data_dir, upstream, "mongodb", mongo_env)
    try:
        with httpx.Client(base_url=mongo.url, timeout=10) as http:
            ready = http.get("/health/ready").json()
            assert ready["checks"]["database"]["status"] == "up", ready
            jwt = admin_login(http, ADMIN)
            client = openai.OpenAI(base_url=mongo.url + "/v1", api_key=token, max_retries=0)
            reply = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "after"}])
            assert reply.choices[0].message.content == "echo: after"
            after = _requests(http, jwt, "acme", 4)
            assert len(after) == 4
            assert [r["request_id"] for r in after[1:]] == [r["request_id"] for r in before]

            # Deleting a tenant drops its database.
            names = MongoClient(wire_server.uri).list_database_names()
            assert {"move_console_main", "move_tenant_acme", "move_tenant_globex"} <= set(names)
            gone = http.delete("/admin/v1/tenants/globex", headers={"Authorization": f"Bearer {jwt}"})
            assert gone.status_code in (200, 204), gone.text
            assert "move_tenant_globex" not in MongoClient(wire_server.uri).list_database_names()

            # MongoDB goes away: readiness says which subsystem, the process keeps running.
            wire_server.stop()
            down = http.get("/health/ready", timeout=15)
            assert down.status_code == 503
            assert down.json()["checks"]["database"]["status"] == "down", down.text
            assert mongo.proc.poll() is None
    finally:
        mongo.stop()
