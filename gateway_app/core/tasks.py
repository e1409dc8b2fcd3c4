"""The process's batch writers, started, reported and stopped together (see core/batch_writer.py)."""

from __future__ import annotations

import atexit
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gateway_app.core.batch_writer import BatchWriter, DropBatch

__all__ = ["BatchWriter", "DropBatch", "TaskRegistry"]


class TaskRegistry:
    """The process's batch writers: one spill directory, one pool of write threads, stopped together.

    `retry_threads` > 0 gives failing tenants a lane of their own (see core/batch_writer.py).
    """

    def __init__(self, spill_dir: Path | None = None, write_threads: int = 4, retry_threads: int = 0) -> None:
        self._writers: dict[str, BatchWriter] = {}
        self._spill_dir = spill_dir
        self._threads = write_threads
        self._retry_threads = retry_threads
        self._pool: ThreadPoolExecutor | None = None
        self._retry_pool: ThreadPoolExecutor | None = None
        self._stopped = False
        # A backstop for exits that skip the lifecycle (the lifecycle's shutdown calls stop_all first).
        atexit.register(_stop_registry, weakref.ref(self))

    def add(self, writer: BatchWriter) -> BatchWriter:
        """Register (and start) a writer."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="batch-write")
            if self._retry_threads:
                self._retry_pool = ThreadPoolExecutor(max_workers=self._retry_threads, thread_name_prefix="batch-retry")
        writer.bind(spill_dir=self._spill_dir, pool=self._pool, retry_pool=self._retry_pool)
        self._writers[writer.name] = writer
        writer.start()
        return writer

    def get(self, name: str) -> BatchWriter:
        """A registered writer by name."""
        return self._writers[name]

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per writer, for readiness and metrics."""
        return {name: w.stats() for name, w in self._writers.items()}

    def flush_all(self, timeout: float = 10.0) -> bool:
        """Flush every writer; False if one timed out."""
        return all([w.flush(timeout) for w in self._writers.values()])

    def stop_all(self, timeout: float = 10.0) -> None:
        """Flush and stop every writer (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for writer in self._writers.values():
            writer.stop(timeout)
        for pool in (self._pool, self._retry_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._retry_pool = None


def _stop_registry(ref: weakref.ref) -> None:
    registry = ref()
    if registry is not None:
        registry.stop_all(timeout=5.0)
