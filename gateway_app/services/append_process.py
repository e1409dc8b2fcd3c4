"""The usage and token last-used writers in the writer process (core/writer_process.py).

These two carry a write per request; with many active tenants that is a transaction per tenant
every second, which costs the request loop less in a process of its own. Traces and guardrail
verdicts (far fewer, written through the ORM) stay in the gateway's own writers.

The child imports this module and what build_writers needs, nothing of the ORM or the settings:
every module loaded there is memory it keeps. It writes on one thread (a second one only
contended for the GIL: measured, 0.17 ms of CPU per tenant batch on one thread, 0.30 on two)
and retries failing tenants on another, so a locked database holds back no one else; the write
lane waits at most WRITE_LANE_BUSY_MS for a lock before the batch moves to the retry lane.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from gateway_app.core.logging import configure_logging
from gateway_app.core.tasks import TaskRegistry
from gateway_app.core.writer_process import WriterProcess
from gateway_app.db.sqlite.appends import SqliteAppends, tenant_file
from gateway_app.db.sqlite.file_budget import open_tenant_budget
from gateway_app.services.append_writers import touch_writer, usage_writer

if TYPE_CHECKING:
    from gateway_app.core.config import Settings

WRITERS = ["usage", "token-last-used"]
WRITE_LANE_BUSY_MS = 500
SOCKET_ENV = "GATEHOUSE_WRITER_SOCKET"  # the shared writer's socket, set by a master for its workers


def start_append_process(settings: Settings) -> WriterProcess:
    """The writers for this gateway process (they replace the in-process ones): a child of its own,
    or, in a worker whose master started one for the host, a connection to that one."""
    shared = os.environ.get(SOCKET_ENV)
    process = WriterProcess(FACTORY, _child_config(settings), WRITERS, max_queue=settings.usage_queue_size * 2,
                            connect=shared or None)
    process.start()
    return process


class SharedAppendProcess:
    """The host's one writer process, started by a master for its workers (they connect to its socket)."""

    def __init__(self, settings: Settings) -> None:
        self._folder = tempfile.mkdtemp(prefix="gatehouse-writer-")  # owner-only (0700): the frames are pickles
        self.socket_path = os.path.join(self._folder, "writer.sock")  # short: Unix socket paths end at ~107 bytes
        self.process = WriterProcess(FACTORY, _child_config(settings), WRITERS, listen=self.socket_path)

    def start(self) -> None:
        """Start the child (restarted whenever it dies) and tell the workers to come (environment)."""
        self.process.start()
        self.process.watch()
        os.environ[SOCKET_ENV] = self.socket_path

    @property
    def pid(self) -> int | None:
        """The writer's process id."""
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """After the workers: the child writes or spills what it holds and ends."""
        self.process.stop(timeout)
        os.environ.pop(SOCKET_ENV, None)
        shutil.rmtree(self._folder, ignore_errors=True)


def start_shared_append_process(settings: Settings) -> SharedAppendProcess:
    """In a master with several workers: one writer process for all of them (one transaction per
    tenant per second for the host rather than one per worker, and one set of open tenant files)."""
    shared = SharedAppendProcess(settings)
    shared.start()
    return shared


FACTORY = "gateway_app.services.append_process:build_writers"


def _child_config(settings: Settings) -> dict:
    return {
        "data_dir": str(settings.data_dir), "busy_timeout_ms": min(settings.sqlite_busy_timeout_ms, WRITE_LANE_BUSY_MS),
        "idle_seconds": settings.tenant_idle_seconds, "max_open": settings.sqlite_max_open_tenants,
        "retry_for": settings.batch_retry_seconds, "max_queue": settings.usage_queue_size,
        "log_format": settings.log_format, "log_level": settings.log_level,
    }


def build_writers(config: dict) -> TaskRegistry:
    """In the child: the writers on a plain sqlite3 connection per active tenant."""
    configure_logging(config["log_format"], config["log_level"])
    data_dir = Path(config["data_dir"])
    appends = SqliteAppends(lambda slug: tenant_file(data_dir, slug), max_open=open_tenant_budget(config["max_open"]),
                            busy_timeout_ms=config["busy_timeout_ms"], idle_seconds=config["idle_seconds"])
    store = SimpleNamespace(appends=appends)  # all these writers need of a DataStore
    registry = TaskRegistry(spill_dir=data_dir / "spill", write_threads=1, retry_threads=1)
    registry.add(usage_writer(store, config["max_queue"], config["retry_for"]))
    registry.add(touch_writer(store))
    return registry
