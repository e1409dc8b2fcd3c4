"""Run the real gateway processes (serve-api, the Reflex console) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class GatewayProcess:
    """A gateway started with `python -m gateway_app ...` in its own process group."""

    proc: subprocess.Popen
    port: int
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, args: list[str], data_dir: Path, log_path: Path, *, port: int | None = None,
              extra_env: dict | None = None) -> GatewayProcess:
        """Start and return at once; call wait_ready next."""
        port = port or free_port()
        env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen([sys.executable, "-m", "gateway_app", *args, "--port", str(port)], cwd=ROOT,
                                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return cls(proc=proc, port=port, log_path=log_path, env=env)

    def wait_ready(self, timeout: float) -> None:
        """Poll /health/ready until 200; fail with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"gateway not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        """Last lines of the process output."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM the process group and wait for the exit code."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Make sure nothing is left running (SIGKILL after a grace period)."""
        if self.proc.poll() is None:
            try:
                self.terminate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def admin_login(http: httpx.Client, admin: Mapping[str, str]) -> str:
    """Log in to the management API; returns the JWT."""
    response = http.post("/admin/v1/auth/login", json=dict(admin))
    response.raise_for_status()
    return response.json()["access_token"]


def configure_over_http(base_url: str, admin: Mapping[str, str] | str, *, tenant: str, provider: Mapping,
                        models: Iterable[Mapping], token_fields: Mapping | None = None,
                        guardrails: Iterable[Mapping] = (), tenant_name: str | None = None,
                        http: httpx.Client | None = None, timeout: float = 30, busy_retries: int = 0,
                        busy: list[str] | None = None) -> str:
    """Over the management API: create `tenant`, its provider, models (and guardrails), then an API token.

    `admin` is the platform admin's credentials ({"email", "password"}: logs in) or a JWT already held
    (so callers creating many tenants log in once). A model without "provider" gets this provider's
    name. `token_fields` is the token's body (default {"name": "svc"}). Pass `http` to reuse a client
    (its base URL must be `base_url`). A 503 answer is retried `busy_retries` times (back-off from
    0.25 s; each such answer is appended to `busy`); any other refusal raises httpx.HTTPStatusError.
    Returns the token.
    """
    own = http is None
    client = httpx.Client(base_url=base_url, timeout=timeout) if own else http

    def post(path: str, body: Mapping) -> httpx.Response:
        for attempt in range(busy_retries + 1):
            response = client.post(path, headers=headers, json=dict(body))
            if response.status_code != 503 or attempt == busy_retries:
                break
            if busy is not None:
                busy.append(f"{path}: {response.text[:300]}")
            time.sleep(0.25 * 2 ** attempt)
        response.raise_for_status()
        return response

    try:
        jwt = admin if isinstance(admin, str) else admin_login(client, admin)
        headers = {"Authorization": f"Bearer {jwt}", "X-Tenant-Id": tenant}
        post("/admin/v1/tenants", {"slug": tenant, "name": tenant_name or tenant.title()})
        post("/admin/v1/providers", provider)
        for model in models:
            post("/admin/v1/models", {"provider": provider["name"], **model})
        for guardrail in guardrails:
            post("/admin/v1/guardrails", guardrail)
        return post("/admin/v1/api-tokens", token_fields or {"name": "svc"}).json()["token"]
    finally:
        if own:
            client.close()
