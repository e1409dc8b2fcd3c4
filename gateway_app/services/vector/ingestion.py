"""Ingestion off the request path: extract, chunk, embed and write each added file, one job at a time.

A bounded in-process queue fed by the API; files found `in_progress` at start are resumed. A lease
on the file's row makes sure that of several processes resuming the same file only one ingests it.
A file is `completed` only once all its chunks are in Chroma; any failure marks it `failed` with
the reason, and chunks of a file deleted or cancelled meanwhile are removed again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import anyio

from gateway_app.core.errors import GatehouseError, InvalidInput, Unavailable
from gateway_app.core.logging import get_logger
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import FileRecord, VectorFileRecord, VectorStoreRecord, utcnow
from gateway_app.services.client_auth import ClientIdentity, Limits
from gateway_app.services.file_storage import LocalFileStorage
from gateway_app.services.vector.chroma_layer import CHUNK_KEY, FILE_KEY, VectorLayer, attribute_metadata
from gateway_app.services.vector.chunking import TooManyChunks, chunk_pages
from gateway_app.services.vector.embedder import Embedder
from gateway_app.services.vector.extraction import ExtractionError, extract_pages

log = get_logger("vector")
LEASE = timedelta(minutes=15)
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
            self._jobs().put_nowait(Job(identity.tenant_slug if identity else "", store_id, file_id, identity))

    def start(self) -> None:
        """Start the workers and resume what was in progress (in the running loop)."""
        queue = self._jobs()
        self._tasks = [asyncio.create_task(self._work(queue), name=f"vector-ingestion-{i}")
                       for i in range(self._workers)]
        self._tasks.append(asyncio.create_task(self._resume(), name="vector-ingestion-resume"))

    async def stop(self) -> None:
        """Stop the workers; files they held stay in_progress and resume at the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def stats(self) -> dict:
        """Queue depth and totals (readiness, metrics)."""
        return {"queued": self._jobs().qsize(), "ingested": self.ingested, "failed": self.failed}

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
                queue.task_done()

    async def _resume(self) -> None:
        """Queue every tenant's in_progress files (their lease decides who ingests them)."""
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
            for tenant, record in await anyio.to_thread.run_sync(pending):
                self._jobs().put_nowait(Job(tenant, record.store_id, record.file_id, None))
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
            self._fail(job, "invalid_file", "the file was deleted before it could be ingested")
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
        """Ingest one file; every outcome is written to its row."""
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
            vectors = await self._embedder.embed(identity, claimed.store.embedding_model, [c.text for c in chunks],
                                                 "vsi")
            dims = len(vectors[0])
            if claimed.store.dimensions and dims != claimed.store.dimensions:
                raise GatehouseError(f"the embedding model {claimed.store.embedding_model!r} now returns {dims} "
                                     f"dimensions; the store holds {claimed.store.dimensions}")
            metadata = attribute_metadata(claimed.file.attributes)
            # Chunk ids are the file's id and position: writing again replaces them. Older chunks can
            # outlast that only when a resumed or re-added file had more of them.
            stale = job.identity is None or claimed.file.chunks > len(chunks)
            await anyio.to_thread.run_sync(self._write, job, [c.text for c in chunks], vectors,
                                           [{FILE_KEY: job.file_id, CHUNK_KEY: c.index, **metadata} for c in chunks],
                                           stale)
            size = sum(len(c.text.encode()) for c in chunks)
            await anyio.to_thread.run_sync(self._complete, job, len(chunks), size, dims)
        except asyncio.CancelledError:
            self._release(job)  # stopping: the next start (this process or another) takes it up at once
            raise
        except ExtractionError as exc:
            await anyio.to_thread.run_sync(self._fail, job, exc.code, exc.message)
        except TooManyChunks as exc:
            await anyio.to_thread.run_sync(self._fail, job, "invalid_file", str(exc))
        except GatehouseError as exc:
            await anyio.to_thread.run_sync(self._fail, job, "server_error", exc.message)
        except Exception:
            log.exception("vector ingestion failed", extra={"tenant": job.tenant, "file_id": job.file_id})
            await anyio.to_thread.run_sync(self._fail, job, "server_error", "the file could not be indexed")

    def _release(self, job: Job) -> None:
        with contextlib.suppress(Exception), self._store.tenant(job.tenant) as uow:
            record = uow.vector_stores.get_file(job.store_id, job.file_id)
            if record is not None and record.status == "in_progress":
                uow.vector_stores.update_file(job.store_id, job.file_id, {"lease_until": None})
                uow.commit()

    def _write(self, job: Job, texts: list[str], vectors: list[list[float]], metadatas: list[dict],
               stale: bool) -> None:
        if stale:  # a delete by metadata costs as much as the write: only when something may be left
            self._layer.delete_file(job.tenant, job.store_id, job.file_id)
        ids = [f"{job.file_id}:{m[CHUNK_KEY]}" for m in metadatas]
        self._layer.upsert(job.tenant, job.store_id, ids, vectors, texts, metadatas)

    def _complete(self, job: Job, chunks: int, size: int, dims: int) -> None:
        with self._store.tenant(job.tenant) as uow:
            record = uow.vector_stores.get_file(job.store_id, job.file_id)
            store = uow.vector_stores.get(job.store_id)
            if record is None or store is None or record.status != "in_progress":
                gone = True
            else:
                gone = False
                uow.vector_stores.update_file(job.store_id, job.file_id, {
                    "status": "completed", "chunks": chunks, "usage_bytes": size, "lease_until": None,
                    "last_error": None})
                uow.vector_stores.update(job.store_id, {"usage_bytes": store.usage_bytes + size,
                                                        "dimensions": store.dimensions or dims,
                                                        "last_active_at": utcnow()})
                self._settle_batch(uow, job.store_id, record.batch_id)
                uow.commit()
        if gone:  # deleted or cancelled while it was being indexed: nothing of it stays searchable
            self._layer.delete_file(job.tenant, job.store_id, job.file_id)
            return
        self.ingested += 1

    def _fail(self, job: Job, code: str, message: str) -> None:
        self.failed += 1
        with self._store.tenant(job.tenant) as uow:
            record = uow.vector_stores.get_file(job.store_id, job.file_id)
            if record is None or record.status != "in_progress":
                return
            uow.vector_stores.update_file(job.store_id, job.file_id, {
                "status": "failed", "lease_until": None, "last_error": {"code": code, "message": message[:1000]}})
            self._settle_batch(uow, job.store_id, record.batch_id)
            uow.commit()
        with contextlib.suppress(Exception):
            self._layer.delete_file(job.tenant, job.store_id, job.file_id)

    @staticmethod
    def _settle_batch(uow, store_id: str, batch_id: str | None) -> None:
        if not batch_id:
            return
        files = uow.vector_stores.list_files(store_id, batch_id=batch_id, limit=10_000)
        if any(f.status == "in_progress" for f in files):
            return
        batch = uow.vector_stores.get_batch(batch_id)
        if batch is not None and batch.status == "in_progress":
            status = "failed" if files and all(f.status == "failed" for f in files) else "completed"
            uow.vector_stores.update_batch(batch_id, {"status": status})
