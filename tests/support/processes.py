"""Start and stop real servers for tests (Redis, the app) on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@dataclass
class RedisServer:
    """A redis-server started for the test session."""

    port: int
    directory: Path
    pid: int

    @property
    def url(self) -> str:
        """redis:// URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, directory: Path) -> RedisServer:
        """Start redis-server daemonized on a free port (fails loudly when it is not installed)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test` (it installs it) "
                               "or apt-get install redis-server")
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        pidfile = directory / "redis.pid"
        subprocess.run([binary, "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes",
                        "--save", "", "--appendonly", "no", "--dir", str(directory),
                        "--pidfile", str(pidfile), "--logfile", str(directory / "redis.log")], check=True,
                       timeout=30, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
        deadline = time.monotonic() + 5
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return cls(port=port, directory=directory, pid=int(pidfile.read_text().strip()))

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): clients time out, as in a network partition."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze the server."""
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server by PID."""
        try:
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)


@dataclass
class ChildServer:
    """A server run as this process's child on a free loopback port, stopped by its PID."""

    port: int
    proc: subprocess.Popen

    @staticmethod
    def spawn(argv: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
        """Start `argv` with its output in `log_path`."""
        log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the server
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})})

    def stop(self) -> None:
        """Terminate it (by its PID)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class ChromaServer(ChildServer):
    """`chroma run` (the chromadb package's server) on a free loopback port."""

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, directory: Path) -> ChromaServer:
        """Start it with data under `directory`; wait for the heartbeat."""
        import sys

        import httpx

        binary = Path(sys.executable).with_name("chroma")
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        proc = cls.spawn([str(binary), "run", "--path", str(directory / "data"), "--host", "127.0.0.1",
                          "--port", str(port)], directory / "chroma.log", {"ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {(directory / 'chroma.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return cls(port=port, proc=proc)
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        proc.kill()
        raise TimeoutError("chroma run did not answer its heartbeat")


class MongoWireServer(ChildServer):
    """`nx-27017`, a MongoDB wire-protocol server (backed by SQLite), on a free loopback port.

    No mongod can be installed here; the backend is written for real MongoDB and tested against
    this server (docs/decisions/2026-12-03-mongodb-backend.md lists what only it verified).
    """

    @property
    def uri(self) -> str:
        """Its mongodb:// URI."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @classmethod
    def start(cls, directory: Path) -> MongoWireServer:
        """Start it with data in memory; wait until it accepts connections."""
        import sys

        binary = Path(sys.executable).with_name("nx-27017")
        if not binary.exists():
            raise RuntimeError("nx-27017 is not installed: run `make setup` (the test extras install it)")
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        proc = cls.spawn([str(binary), "--host", "127.0.0.1", "-p", str(port), "--data-dir", "memory",
                          "--pid-file", str(directory / "nx.pid"), "--log-file", str(directory / "nx.log")],
                         directory / "nx.out")
        wait_for_port(port, timeout=30, proc=proc)
        return cls(port=port, proc=proc)
