"""Run the real gateway processes (serve-api, the Reflex console) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
