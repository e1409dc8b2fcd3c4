"""Off-request-path writing: bounded queues drained in batches by a worker thread.

Requests only enqueue (put_nowait, no waiting); a full queue drops the item, counts it and logs
the count at most every few seconds. Stopping flushes everything still queued.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from gateway_app.core.logging import get_logger

log = get_logger("tasks")
T = TypeVar("T")
_STOP = object()
_FLUSH = object()


class BatchWriter(Generic[T]):
    """A bounded queue and the thread that hands its items to a sink in batches."""

    def __init__(self, name: str, sink: Callable[[Sequence[T]], None], *, max_queue: int = 100_000,
                 batch_size: int = 500, interval: float = 0.5, warn_every: float = 10.0) -> None:
        self.name = name
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._interval = interval
        self._warn_every = warn_every
        self._thread: threading.Thread | None = None
        self._last_drop_log = 0.0
        self._drops_unlogged = 0
        self.submitted = 0
        self.written = 0
        self.dropped = 0
        self.failed = 0

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=f"batch-{self.name}", daemon=True)
            self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue an item without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._drops_unlogged += 1
            now = time.monotonic()
            if now - self._last_drop_log >= self._warn_every:
                log.warning("queue full, items dropped",
                            extra={"queue": self.name, "dropped": self._drops_unlogged, "dropped_total": self.dropped})
                self._last_drop_log = now
                self._drops_unlogged = 0
            return False
        self.submitted += 1
        return True

    @property
    def pending(self) -> int:
        """Items waiting to be written."""
        return self._queue.qsize()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is written; False on timeout."""
        if self._thread is None or not self._thread.is_alive():
            self._drain_inline()
            return True
        done = threading.Event()
        self._queue.put((_FLUSH, done))  # may block briefly if the queue is full: fine off the hot path
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the worker thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._drain_inline()
        if self._drops_unlogged:
            log.warning("items dropped before shutdown", extra={"queue": self.name, "dropped_total": self.dropped})
        log.info("batch writer stopped",
                 extra={"queue": self.name, "written": self.written, "dropped": self.dropped, "failed": self.failed})

    def _drain_inline(self) -> None:
        batch: list[T] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                continue
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _FLUSH:
                item[1].set()
                continue
            batch.append(item)
        if batch:
            self._write(batch)

    def _write(self, batch: list[T]) -> None:
        for start in range(0, len(batch), self._batch_size):
            chunk = batch[start:start + self._batch_size]
            try:
                self._sink(chunk)
                self.written += len(chunk)
            except Exception:  # noqa: BLE001 - a failing sink must not kill the worker
                self.failed += len(chunk)
                log.exception("batch write failed", extra={"queue": self.name, "items": len(chunk)})

    def _run(self) -> None:
        batch: list[T] = []
        deadline = time.monotonic() + self._interval
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._write(batch)
                return
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _FLUSH:
                self._write(batch)
                batch = []
                item[1].set()
                continue
            if item is not None:
                batch.append(item)
            if len(batch) >= self._batch_size or time.monotonic() >= deadline:
                if batch:
                    self._write(batch)
                    batch = []
                deadline = time.monotonic() + self._interval


class TaskRegistry:
    """The process's batch writers, started and stopped together."""

    def __init__(self) -> None:
        self._writers: dict[str, BatchWriter] = {}

    def add(self, writer: BatchWriter) -> BatchWriter:
        """Register (and start) a writer."""
        self._writers[writer.name] = writer
        writer.start()
        return writer

    def get(self, name: str) -> BatchWriter:
        """A registered writer by name."""
        return self._writers[name]

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters per writer, for metrics and health."""
        return {
            name: {"pending": w.pending, "written": w.written, "dropped": w.dropped, "failed": w.failed}
            for name, w in self._writers.items()
        }

    def stop_all(self, timeout: float = 10.0) -> None:
        """Flush and stop every writer."""
        for writer in self._writers.values():
            writer.stop(timeout)
