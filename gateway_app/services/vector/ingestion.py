"""Ingestion off the request path: extract, chunk and embed each added file; the chunk writer stores it.

A bounded in-process queue fed by the API; files found `in_progress` at start are resumed, and a
sweep every few minutes takes up files whose lease ran out (their process died) or that no process
queued. A lease on the file's row makes sure that of several processes taking up the same file only
one ingests it. A file is `completed` only once all its chunks are in Chroma; any failure marks it
`failed` with the reason, and chunks of a file deleted or cancelled meanwhile are removed again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.errors import GatehouseError, InvalidInput, Unavailable
from gateway_app.core.logging import get_logger
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import FileRecord, VectorFileRecord, VectorStoreRecord, utcnow
from gateway_app.services.client_auth import ClientIdentity, Limits
from gateway_app.services.file_storage import LocalFileStorage
from gateway_app.services.vector.chroma_layer import CHUNK_KEY, FILE_KEY, VectorLayer, attribute_metadata
from gateway_app.services.vector.chunk_writer import ChunkWriter, Embedded
from gateway_app.services.vector.chunking import TooManyChunks, chunk_pages
from gateway_app.services.vector.embedder import Embedder
from gateway_app.services.vector.extraction import ExtractionError, extract_pages

log = get_logger("vector")
LEASE = timedelta(minutes=15)
SWEEP_SECONDS = 300.0  # how often a running process looks for files nobody is ingesting
UNQUEUED_GRACE = timedelta(minutes=10)  # a never-claimed file this old was lost with its process's queue
RESUME_PAGE = 200


@dataclass(slots=True)
class Job:
    """One file of one store to ingest; identity None for files resumed after a restart."""

    tenant: str
    store_id: str
    file_id: str
    identity: ClientIdentity | None


@dataclass(slots=True)
class Claimed:
    store: VectorStoreRecord
    file: VectorFileRecord
    upload: FileRecord


class Ingestion:
    """The queue and its workers."""

    def __init__(self, store: DataStore, storage: LocalFileStorage, layer: VectorLayer, embedder: Embedder, *,
                 max_queue: int = 10_000, workers: int = 2) -> None:
        self._store = store
        self._storage = storage
        self._layer = layer
        self._embedder = embedder
        self._max = max_queue
        self._queue: asyncio.Queue[Job] | None = None
        self._workers = workers
        self._tasks: list[asyncio.Task] = []
        self._embed_slots: asyncio.Semaphore | None = None  # embedding calls at a time: `workers`
        self._queued: set[tuple[str, str, str]] = set()  # (tenant, store, file) queued or in work here
        self._writer = ChunkWriter(layer, self._complete, self._fail_written, self._release_written)
        self.sweep_seconds = SWEEP_SECONDS
        self.sweeps = 0  # passes over the tenants' in_progress files, the one at start included
        self.ingested = 0
        self.failed = 0

    def _jobs(self) -> asyncio.Queue[Job]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    def require_room(self, n: int) -> None:
        """Refuse (503) before anything is written when the queue cannot take n more files."""
        if self._jobs().qsize() + n > self._max:
            error = Unavailable(f"the ingestion queue is full ({self._max} files waiting); retry shortly")
            error.status = 503
            error.headers = {"Retry-After": "5"}  # type: ignore[attr-defined]
            raise error

    def enqueue_many(self, identity: ClientIdentity | None, items: list[tuple[str, str]]) -> None:
        """Queue (store_id, file_id) pairs of the identity's tenant."""
        for store_id, file_id in items:
            self._put(Job(identity.tenant_slug if identity else "", store_id, file_id, identity))

    def _put(self, job: Job) -> None:
        self._queued.add((job.tenant, job.store_id, job.file_id))
        self._jobs().put_nowait(job)

    def start(self) -> None:
        """Start the workers and resume what was in progress (in the running loop)."""
        queue = self._jobs()
        # Twice as many tasks as embedding calls at a time: while some wait for the upstream, the
        # others claim, extract and chunk their next file (the upstream then never waits for them).
        self._embed_slots = asyncio.Semaphore(self._workers)
        self._tasks = [asyncio.create_task(self._work(queue), name=f"vector-ingestion-{i}")
                       for i in range(2 * self._workers)]
        self._tasks.append(asyncio.create_task(self._sweep(), name="vector-ingestion-sweep"))
        self._writer.start()

    async def stop(self) -> None:
        """Stop the workers; files they held stay in_progress and resume at the next start."""
        await stop_tasks(self._tasks)
        self._tasks = []
        await self._writer.stop()

    def stats(self) -> dict:
        """Queue depth and totals (readiness, metrics)."""
        return {"queued": self._jobs().qsize() + self._writer.waiting(), "ingested": self.ingested,
                "failed": self.failed}

    async def pages(self, tenant: str, file_id: str) -> list[str]:
        """The parsed text of a stored file, page by page."""
        def read() -> list[str]:
            with self._store.tenant(tenant) as uow:
                upload = uow.files.get(file_id)
            try:
                return extract_pages(upload.filename if upload else file_id, self._storage.read(tenant, file_id))
            except ExtractionError as exc:
                raise InvalidInput(exc.message, param="file_id") from None

        return await anyio.to_thread.run_sync(read)

    # Workers ----------------------------------------------------------------------------------

    async def _work(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self.ingest(job)
            except Exception:  # noqa: BLE001 - one bad file never stops the worker
                log.exception("vector ingestion failed", extra={"tenant": job.tenant, "file_id": job.file_id})
            finally:
                self._queued.discard((job.tenant, job.store_id, job.file_id))
                queue.task_done()

    async def _sweep(self) -> None:
        """At start every in_progress file, then every sweep_seconds the ones nobody is ingesting."""
        startup = True
        while True:
            await self._resume(startup)
            startup = False
            self.sweeps += 1
            await asyncio.sleep(self.sweep_seconds)

    def _abandoned(self, record: VectorFileRecord, now: datetime) -> bool:
        # Stored datetimes come back timezone-aware (UtcDateTime).
        if record.lease_until is not None:
            return record.lease_until < now
        return record.created_at < now - UNQUEUED_GRACE

    async def _resume(self, startup: bool = True) -> None:
        """Queue the tenants' in_progress files not queued here (their lease decides who ingests them)."""
        def pending() -> list[tuple[str, VectorFileRecord]]:
            found: list[tuple[str, VectorFileRecord]] = []
            offset = 0
            while True:
                with self._store.control() as uow:
                    tenants = uow.tenants.list(offset=offset, limit=RESUME_PAGE)
                for tenant in tenants:
                    if self._store.tenant_store_exists(tenant.slug):
                        with self._store.tenant(tenant.slug) as uow:
                            found += [(tenant.slug, f) for f in uow.vector_stores.pending_files()]
                if len(tenants) < RESUME_PAGE:
                    return found
                offset += RESUME_PAGE

        try:
            now = utcnow()
            for tenant, record in await anyio.to_thread.run_sync(pending):
                if (tenant, record.store_id, record.file_id) in self._queued:
                    continue
                if startup or self._abandoned(record, now):
                    self._put(Job(tenant, record.store_id, record.file_id, None))
        except Exception:  # noqa: BLE001 - resuming is retried at the next start
            log.exception("could not resume vector ingestion")

    def _claim(self, job: Job) -> Claimed | None:
        now = utcnow()
        with self._store.tenant(job.tenant) as uow:
            if not uow.vector_stores.claim_file(job.store_id, job.file_id, now, now + LEASE):
                return None  # done, cancelled, deleted, or another process holds it
            uow.commit()
            store = uow.vector_stores.get(job.store_id)
            record = uow.vector_stores.get_file(job.store_id, job.file_id)
            upload = uow.files.get(job.file_id)
        if store is None or record is None:
            return None
        if upload is None:
            self._fail_file(job.tenant, job.store_id, job.file_id, "invalid_file",
                            "the file was deleted before it could be ingested")
            return None
        return Claimed(store, record, upload)

    def _identity(self, tenant: str, token_id: str) -> ClientIdentity:
        # Resumed after a restart: the tenant's limits apply, usage stays under the token that added it.
        with self._store.control() as uow:
            record = uow.tenants.get(tenant)
        features = frozenset(record.features) if record else frozenset()
        limits = Limits.of(record.limits) if record else Limits()
        return ClientIdentity(token_id=token_id or "vector-ingestion", token_name="Vector store ingestion",
                              tenant_slug=tenant, project_id=None, models=None, features=features, expires_at=None,
                              license_expires_at=None, tenant_limits=limits)

    async def ingest(self, job: Job) -> None:
        """Claim, extract, chunk and embed one file, then hand it to the writer (which completes its row)."""
        claimed = await anyio.to_thread.run_sync(self._claim, job)
        if claimed is None:
            return
        try:
            data = await anyio.to_thread.run_sync(self._storage.read, job.tenant, job.file_id)
            pages = await anyio.to_thread.run_sync(extract_pages, claimed.upload.filename, data)
            chunking = claimed.file.chunking
            chunks = await anyio.to_thread.run_sync(chunk_pages, pages, chunking.get("max_tokens", 800),
                                                    chunking.get("overlap", 400))
            identity = job.identity or await anyio.to_thread.run_sync(self._identity, job.tenant,
                                                                      claimed.file.token_id)
            texts = [c.text for c in chunks]
            async with self._embed_slots:
                vectors = await self._embedder.embed(identity, claimed.store.embedding_model, texts, "vsi")
            dims = len(vectors[0])
            if claimed.store.dimensions and dims != claimed.store.dimensions:
                raise GatehouseError(f"the embedding model {claimed.store.embedding_model!r} now returns {dims} "
                                     f"dimensions; the store holds {claimed.store.dimensions}")
            metadata = attribute_metadata(claimed.file.attributes)
            # Chunk ids are the file's id and position: writing again replaces them. Older chunks can
            # outlast that only when a resumed or re-added file had more of them.
            item = Embedded(job.tenant, job.store_id, job.file_id, [f"{job.file_id}:{c.index}" for c in chunks],
                            texts, vectors, [{FILE_KEY: job.file_id, CHUNK_KEY: c.index, **metadata} for c in chunks],
                            stale=job.identity is None or claimed.file.chunks > len(chunks), dims=dims)
            await self._writer.put(item)
        except asyncio.CancelledError:
            self._release_file(job.tenant, job.store_id, job.file_id)  # the next start takes it up at once
            raise
        except ExtractionError as exc:
            await anyio.to_thread.run_sync(self._fail_file, job.tenant, job.store_id, job.file_id, exc.code, exc.message)
        except TooManyChunks as exc:
            await anyio.to_thread.run_sync(self._fail_file, job.tenant, job.store_id, job.file_id, "invalid_file",
                                           str(exc))
        except GatehouseError as exc:
            await anyio.to_thread.run_sync(self._fail_file, job.tenant, job.store_id, job.file_id, "server_error",
                                           exc.message)
        except Exception:
            log.exception("vector ingestion failed", extra={"tenant": job.tenant, "file_id": job.file_id})
            await anyio.to_thread.run_sync(self._fail_file, job.tenant, job.store_id, job.file_id, "server_error",
                                           "the file could not be indexed")

    def _fail_written(self, item: Embedded, code: str, message: str) -> None:
        self._fail_file(item.tenant, item.store_id, item.file_id, code, message)

    def _release_written(self, item: Embedded) -> None:
        self._release_file(item.tenant, item.store_id, item.file_id)

    def _release_file(self, tenant: str, store_id: str, file_id: str) -> None:
        with contextlib.suppress(Exception), self._store.tenant(tenant) as uow:
            record = uow.vector_stores.get_file(store_id, file_id)
            if record is not None and record.status == "in_progress":
                uow.vector_stores.update_file(store_id, file_id, {"lease_until": None})
                uow.commit()

    def _complete(self, tenant: str, store_id: str, items: list[Embedded]) -> None:
        """Mark written files completed, in one transaction for the store (called by the writer)."""
        gone: list[Embedded] = []
        with self._store.tenant(tenant) as uow:
            store = uow.vector_stores.get(store_id)
            size, dims, batches = 0, 0, set()
            for item in items:
                record = uow.vector_stores.get_file(store_id, item.file_id) if store is not None else None
                if record is None or record.status != "in_progress":
                    gone.append(item)
                    continue
                uow.vector_stores.update_file(store_id, item.file_id, {
                    "status": "completed", "chunks": len(item.ids), "usage_bytes": item.size, "lease_until": None,
                    "last_error": None})
                size, dims = size + item.size, dims or item.dims
                batches.add(record.batch_id)
            if store is not None and len(gone) < len(items):
                uow.vector_stores.update(store_id, {"usage_bytes": store.usage_bytes + size,
                                                    "dimensions": store.dimensions or dims, "last_active_at": utcnow()})
                for batch_id in batches:
                    self._settle_batch(uow, batch_id)
                uow.commit()
        if store is None:  # deleted while its files were written: the write recreated the collection
            self._layer.drop_store(tenant, store_id)
        else:  # deleted or cancelled while being indexed: nothing of them stays searchable
            for item in gone:
                self._layer.delete_file(tenant, store_id, item.file_id)
        self.ingested += len(items) - len(gone)

    def _fail_file(self, tenant: str, store_id: str, file_id: str, code: str, message: str) -> None:
        with self._store.tenant(tenant) as uow:
            record = uow.vector_stores.get_file(store_id, file_id)
            if record is None or record.status != "in_progress":
                return  # deleted or cancelled meanwhile: not a failure of ingestion
            uow.vector_stores.update_file(store_id, file_id, {
                "status": "failed", "lease_until": None, "last_error": {"code": code, "message": message[:1000]}})
            self._settle_batch(uow, record.batch_id)
            uow.commit()
        self.failed += 1
        with contextlib.suppress(Exception):
            self._layer.delete_file(tenant, store_id, file_id)

    @staticmethod
    def _settle_batch(uow, batch_id: str | None) -> None:
        if not batch_id:
            return
        counts = uow.vector_stores.batch_counts(batch_id)
        if counts.get("in_progress"):
            return
        batch = uow.vector_stores.get_batch(batch_id)
        if batch is not None and batch.status == "in_progress":
            failed_only = counts and set(counts) == {"failed"}
            uow.vector_stores.update_batch(batch_id, {"status": "failed" if failed_only else "completed"})
