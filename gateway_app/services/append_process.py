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


def start_append_process(settings: Settings) -> WriterProcess:
    """Start the writer process for this gateway process; its writers replace the in-process ones."""
    config = {
        "data_dir": str(settings.data_dir), "busy_timeout_ms": min(settings.sqlite_busy_timeout_ms, WRITE_LANE_BUSY_MS),
        "idle_seconds": settings.tenant_idle_seconds, "max_open": settings.sqlite_max_open_tenants,
        "retry_for": settings.batch_retry_seconds, "max_queue": settings.usage_queue_size,
        "log_format": settings.log_format, "log_level": settings.log_level,
    }
    process = WriterProcess("gateway_app.services.append_process:build_writers", config, WRITERS,
                            max_queue=settings.usage_queue_size * 2)
    process.start()
    return process


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
