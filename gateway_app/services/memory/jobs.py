"""Asynchronous adds: a job row answered 202 at once, the add run by a few background tasks off the
request path (bounded queue), its decisions or its error stored on the job for the caller to poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.errors import GatehouseError, Unavailable
from gateway_app.core.logging import get_logger
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import MemoryJobRecord, utcnow

log = get_logger("memory")
STALE_AFTER = timedelta(minutes=10)  # a job still in progress this long was lost with its process


class QueueFull(Unavailable):
    """Too many adds are waiting; retry shortly."""

    status = 503


class AddJobs:
    """Runs queued adds with `workers` tasks; each job's outcome is written to its row."""

    def __init__(self, store: DataStore, *, max_queue: int = 1000, workers: int = 2) -> None:
        self._store = store
        self._queue: asyncio.Queue | None = None
        self._max_queue = max_queue
        self._workers_n = workers
        self._workers: list[asyncio.Task] = []
        self.completed = 0
        self.failed = 0

    def _ensure_started(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = asyncio.Queue(self._max_queue)
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._work(), name=f"memory-add-{n}") for n in range(self._workers_n)]
        return self._queue

    async def submit(self, tenant: str, store_id: str, token_id: str,
                     run: Callable[[], Awaitable[dict]]) -> MemoryJobRecord:
        """Queue an add; its job row exists before this returns (so a poll never misses it)."""
        queue = self._ensure_started()
        if queue.full():
            raise QueueFull("too many memory adds are waiting; retry shortly")
        job = MemoryJobRecord(store_id=store_id, token_id=token_id)

        def insert() -> None:
            with self._store.tenant(tenant) as uow:
                uow.memory.add_job(job)
                uow.commit()

        await anyio.to_thread.run_sync(insert)
        queue.put_nowait((tenant, job.id, run))
        return job

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            tenant, job_id, run = await self._queue.get()
            try:
                results = await run()
                changes = {"status": "completed", "results": results.get("results", []),
                           "error": None if results.get("results") or "message" not in results
                           else {"code": "nothing_to_remember", "message": results["message"]}}
                self.completed += 1
            except GatehouseError as exc:
                changes = {"status": "failed", "error": {"code": exc.code, "message": exc.message}}
                self.failed += 1
            except Exception as exc:  # noqa: BLE001 - a job fails, the worker goes on
                log.exception("memory add failed", extra={"tenant": tenant, "job": job_id})
                changes = {"status": "failed", "error": {"code": "server_error", "message": repr(exc)[:300]}}
                self.failed += 1
            try:
                await anyio.to_thread.run_sync(self._finish, tenant, job_id, changes)
            except Exception:  # noqa: BLE001 - the tenant may be gone
                log.exception("memory job outcome not stored", extra={"tenant": tenant, "job": job_id})
            finally:
                self._queue.task_done()

    def _finish(self, tenant: str, job_id: str, changes: dict) -> None:
        with self._store.tenant(tenant) as uow:
            uow.memory.update_job(job_id, {**changes, "completed_at": utcnow()})
            uow.commit()

    def fail_stale(self, tenant: str, now: datetime | None = None) -> int:
        """Mark jobs lost with their process (still in progress after STALE_AFTER) failed."""
        now = now or utcnow()
        with self._store.tenant(tenant) as uow:
            stale = uow.memory.stale_jobs(now - STALE_AFTER)
            for job in stale:
                uow.memory.update_job(job.id, {"status": "failed", "completed_at": now, "error": {
                    "code": "interrupted", "message": "the process running this add stopped; add again"}})
            uow.commit()
        return len(stale)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let queued adds finish (up to timeout), then stop the workers."""
        if self._queue is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        await stop_tasks(self._workers)
        self._queue, self._workers = None, []

    async def drain(self) -> None:
        """Wait until every queued add is done (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()
