"""Vector stores for the client API: stores, their files and file batches, per tenant."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.db.protocols import DataStore, TenantUnitOfWork
from gateway_app.db.records import VectorFileBatchRecord, VectorFileRecord, VectorStoreRecord, new_id, utcnow
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.file_storage import LOCAL_PROVIDER
from gateway_app.services.inference.catalog import ModelCatalog
from gateway_app.services.console_identity import console_identity
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess
from gateway_app.services.vector.chroma_layer import VectorLayer
from gateway_app.services.vector.chunking import chunking_params
from gateway_app.services.vector.filters import check_attributes
from gateway_app.services.vector.ingestion import Ingestion
from gateway_app.services.vector.objects import batch_object, file_object, list_page, store_object

MAX_NAME = 256
MAX_METADATA = 16
MAX_BATCH_FILES = 500
LIST_LIMIT = 100


def _metadata(value: object) -> dict:
    """OpenAI's metadata: up to 16 string pairs, keys 64 and values 512 characters."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_METADATA:
        raise InvalidInput(f"'metadata' must be an object of at most {MAX_METADATA} pairs", param="metadata")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64 or not isinstance(item, str) or len(item) > 512:
            raise InvalidInput("'metadata' keys must be 1-64 characters and values strings of at most 512",
                               param="metadata")
    return dict(value)


def _expiry(value: object, last_active: datetime) -> tuple[dict | None, datetime | None]:
    """expires_after {anchor: last_active_at, days: 1-365} and the resulting expires_at."""
    if value is None:
        return None, None
    if (not isinstance(value, dict) or value.get("anchor") != "last_active_at"
            or not isinstance(value.get("days"), int) or isinstance(value.get("days"), bool)
            or not 1 <= value["days"] <= 365):
        raise InvalidInput("'expires_after' must be {\"anchor\": \"last_active_at\", \"days\": 1-365}",
                           param="expires_after")
    policy = {"anchor": "last_active_at", "days": value["days"]}
    return policy, last_active + timedelta(days=value["days"])


def page_args(limit: int, order: str) -> tuple[int, str]:
    """Checked list arguments."""
    if not 1 <= limit <= LIST_LIMIT:
        raise InvalidInput(f"'limit' must be between 1 and {LIST_LIMIT}", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidInput("'order' must be 'asc' or 'desc'", param="order")
    return limit, order


class VectorStoreService:
    """Create, list, change and delete stores; add, list, change and remove their files."""

    def __init__(self, store: DataStore, catalog: ModelCatalog, layer: VectorLayer, ingestion: Ingestion,
                 access: TenantAccess) -> None:
        self._access = access
        self._store = store
        self._catalog = catalog
        self._layer = layer
        self._ingestion = ingestion

    def _tenant(self, identity: ClientIdentity) -> TenantUnitOfWork:
        return self._store.tenant(identity.tenant_slug)

    @staticmethod
    def _get(uow: TenantUnitOfWork, store_id: str) -> VectorStoreRecord:
        record = uow.vector_stores.get(store_id)
        if record is None:
            raise NotFound(f"No vector store found with id '{store_id}'.", param="vector_store_id")
        return record

    def _object(self, uow: TenantUnitOfWork, record: VectorStoreRecord) -> dict:
        return store_object(record, uow.vector_stores.file_counts([record.id])[record.id])

    async def _embedding_model(self, identity: ClientIdentity, name: object) -> str:
        models = await self.embedding_models(identity)
        if name is None:
            if not models:
                raise InvalidInput("this tenant has no embedding model: add one before creating a vector store",
                                   param="embedding_model")
            return models[0]
        if not isinstance(name, str) or name not in models:
            raise InvalidInput(f"{name!r} is not one of this tenant's embedding models "
                               f"({', '.join(models) or 'none'})", param="embedding_model")
        return name

    def console_identity(self, actor: Principal, tenant: str | None, *, write: bool = False) -> ClientIdentity:
        """The console user acting on the tenant's stores (members read; embeddings billed to 'console:<user>')."""
        return console_identity(self._access, actor, tenant, feature="vector", what="vector stores", write=write)

    async def embedding_models(self, identity: ClientIdentity) -> list[str]:
        """The tenant's embedding models, by name."""
        return [m.name for m in await self._catalog.visible(identity) if m.kind == "embedding"]

    # Stores -----------------------------------------------------------------------------------

    async def create(self, identity: ClientIdentity, body: dict) -> dict:
        """POST /v1/vector_stores (file_ids, if given, are added and ingested)."""
        name = body.get("name") or ""
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise InvalidInput(f"'name' must be a string of at most {MAX_NAME} characters", param="name")
        model = await self._embedding_model(identity, body.get("embedding_model"))
        now = utcnow()
        policy, expires_at = _expiry(body.get("expires_after"), now)
        record = VectorStoreRecord(id=new_id("vs"), name=name, embedding_model=model,
                                   metadata=_metadata(body.get("metadata")), expires_after=policy,
                                   expires_at=expires_at, created_at=now, last_active_at=now)
        file_ids = body.get("file_ids") or []
        entries = self._entries(file_ids, body.get("chunking_strategy"), None)

        def save() -> dict:
            with self._tenant(identity) as uow:
                uow.vector_stores.add(record)
                self._add_files(uow, identity, record.id, entries, None)
                uow.commit()
                return self._object(uow, record)

        self._ingestion.require_room(len(entries))
        created = await anyio.to_thread.run_sync(save)
        self._ingestion.enqueue_many(identity, [(record.id, e[0]) for e in entries])
        return created

    async def list(self, identity: ClientIdentity, limit: int = 20, order: str = "desc", after: str | None = None,
                   before: str | None = None) -> dict:
        """GET /v1/vector_stores."""
        limit, order = page_args(limit, order)

        def load() -> list[dict]:
            with self._tenant(identity) as uow:
                records = uow.vector_stores.list(order=order, after=after, before=before, limit=limit + 1)
                counts = uow.vector_stores.file_counts([r.id for r in records])
                return [store_object(r, counts[r.id]) for r in records]

        return list_page(await anyio.to_thread.run_sync(load), limit)

    def record(self, identity: ClientIdentity, store_id: str) -> VectorStoreRecord:
        """The store's record (404 for another tenant's id)."""
        with self._tenant(identity) as uow:
            return self._get(uow, store_id)

    async def get(self, identity: ClientIdentity, store_id: str) -> dict:
        """GET /v1/vector_stores/{id}."""
        def load() -> dict:
            with self._tenant(identity) as uow:
                return self._object(uow, self._get(uow, store_id))

        return await anyio.to_thread.run_sync(load)

    async def update(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}: name, metadata, expires_after."""
        changes: dict = {}
        if "name" in body and body["name"] is not None:
            if not isinstance(body["name"], str) or len(body["name"]) > MAX_NAME:
                raise InvalidInput(f"'name' must be a string of at most {MAX_NAME} characters", param="name")
            changes["name"] = body["name"]
        if "metadata" in body and body["metadata"] is not None:
            changes["metadata"] = _metadata(body["metadata"])

        def save() -> dict:
            with self._tenant(identity) as uow:
                record = self._get(uow, store_id)
                if "expires_after" in body:
                    changes["expires_after"], changes["expires_at"] = _expiry(body["expires_after"],
                                                                              record.last_active_at)
                record = uow.vector_stores.update(store_id, changes) if changes else record
                uow.commit()
                return self._object(uow, record)

        return await anyio.to_thread.run_sync(save)

    async def delete(self, identity: ClientIdentity, store_id: str) -> dict:
        """DELETE /v1/vector_stores/{id}: its records, then its vectors."""
        def forget() -> None:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                uow.vector_stores.delete(store_id)
                uow.commit()
            self._layer.drop_store(identity.tenant_slug, store_id)

        await anyio.to_thread.run_sync(forget)
        return {"id": store_id, "object": "vector_store.deleted", "deleted": True}

    # Files ------------------------------------------------------------------------------------

    @staticmethod
    def _entries(file_ids: object, strategy: object, attributes: object) -> list[tuple[str, dict, dict]]:
        """(file_id, attributes, chunking) for each file to add."""
        if not isinstance(file_ids, list) or len(file_ids) > MAX_BATCH_FILES:
            raise InvalidInput(f"'file_ids' must be a list of at most {MAX_BATCH_FILES} ids", param="file_ids")
        max_tokens, overlap = chunking_params(strategy)  # type: ignore[arg-type]
        chunking = {"max_tokens": max_tokens, "overlap": overlap}
        attrs = check_attributes(attributes)
        if not all(isinstance(f, str) and 0 < len(f) <= 200 for f in file_ids):
            raise InvalidInput("'file_ids' must hold file ids", param="file_ids")
        return [(f, attrs, chunking) for f in dict.fromkeys(file_ids)]

    def _add_files(self, uow: TenantUnitOfWork, identity: ClientIdentity, store_id: str,
                   entries: list[tuple[str, dict, dict]], batch_id: str | None) -> list[VectorFileRecord]:
        added = []
        for file_id, attributes, chunking in entries:
            upload = uow.files.get(file_id)
            if upload is None:
                raise NotFound(f"No file found with id '{file_id}'.", param="file_id")
            if upload.provider_id != LOCAL_PROVIDER:
                raise InvalidInput(f"file {file_id!r} is held by a provider (purpose {upload.purpose!r}); upload it "
                                   "with purpose 'assistants' or 'user_data' to add it to a vector store",
                                   param="file_id")
            existing = uow.vector_stores.get_file(store_id, file_id)
            if existing is not None:
                if batch_id is None:
                    raise Conflict(f"file {file_id!r} is already in vector store {store_id!r}", param="file_id")
                uow.vector_stores.delete_file(store_id, file_id)  # a batch re-adds it (new attributes, chunking)
            # `chunks` keeps the count already in Chroma, so ingestion knows to clear what it will not overwrite.
            added.append(uow.vector_stores.add_file(VectorFileRecord(
                store_id=store_id, file_id=file_id, attributes=attributes, chunking=chunking, batch_id=batch_id,
                token_id=identity.token_id, chunks=existing.chunks if existing else 0)))
        if added:
            uow.vector_stores.update(store_id, {"last_active_at": utcnow()})
        return added

    async def add_file(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/files."""
        file_id = body.get("file_id")
        entries = self._entries([file_id] if file_id is not None else None, body.get("chunking_strategy"),
                                body.get("attributes"))

        def save() -> dict:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                added = self._add_files(uow, identity, store_id, entries, None)
                uow.commit()
                return file_object(added[0])

        self._ingestion.require_room(1)
        created = await anyio.to_thread.run_sync(save)
        self._ingestion.enqueue_many(identity, [(store_id, created["id"])])
        return created

    def _file(self, uow: TenantUnitOfWork, store_id: str, file_id: str) -> VectorFileRecord:
        self._get(uow, store_id)
        record = uow.vector_stores.get_file(store_id, file_id)
        if record is None:
            raise NotFound(f"No file found with id '{file_id}' in vector store '{store_id}'.", param="file_id")
        return record

    async def get_file(self, identity: ClientIdentity, store_id: str, file_id: str) -> dict:
        """GET /v1/vector_stores/{id}/files/{file_id}."""
        def load() -> dict:
            with self._tenant(identity) as uow:
                return file_object(self._file(uow, store_id, file_id))

        return await anyio.to_thread.run_sync(load)

    async def list_files(self, identity: ClientIdentity, store_id: str, *, status: str | None = None,
                         batch_id: str | None = None, limit: int = 20, order: str = "desc",
                         after: str | None = None, before: str | None = None) -> dict:
        """GET /v1/vector_stores/{id}/files (and a batch's files)."""
        limit, order = page_args(limit, order)
        if status is not None and status not in ("in_progress", "completed", "failed", "cancelled"):
            raise InvalidInput("'filter' must be one of in_progress, completed, failed, cancelled", param="filter")

        def load() -> list[dict]:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                if batch_id is not None:
                    self._batch(uow, store_id, batch_id)
                records = uow.vector_stores.list_files(store_id, status=status, batch_id=batch_id, order=order,
                                                       after=after, before=before, limit=limit + 1)
                return [file_object(r) for r in records]

        return list_page(await anyio.to_thread.run_sync(load), limit)

    async def update_file(self, identity: ClientIdentity, store_id: str, file_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/files/{file_id}: new attributes, on the record and every chunk."""
        attributes = check_attributes(body.get("attributes"))

        def save() -> dict:
            with self._tenant(identity) as uow:
                self._file(uow, store_id, file_id)
                record = uow.vector_stores.update_file(store_id, file_id, {"attributes": attributes})
                self._layer.set_file_attributes(identity.tenant_slug, store_id, file_id, attributes)
                uow.commit()
                return file_object(record)

        return await anyio.to_thread.run_sync(save)

    async def delete_file(self, identity: ClientIdentity, store_id: str, file_id: str) -> dict:
        """DELETE /v1/vector_stores/{id}/files/{file_id}: its chunks leave the store (the file stays)."""
        def forget() -> None:
            with self._tenant(identity) as uow:
                record = self._file(uow, store_id, file_id)
                uow.vector_stores.delete_file(store_id, file_id)
                store = self._get(uow, store_id)
                uow.vector_stores.update(store_id, {"usage_bytes": max(0, store.usage_bytes - record.usage_bytes)})
                uow.commit()
            self._layer.delete_file(identity.tenant_slug, store_id, file_id)

        await anyio.to_thread.run_sync(forget)
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    async def file_content(self, identity: ClientIdentity, store_id: str, file_id: str) -> dict:
        """GET .../files/{file_id}/content: the parsed text, page by page."""
        def load() -> VectorFileRecord:
            with self._tenant(identity) as uow:
                return self._file(uow, store_id, file_id)

        await anyio.to_thread.run_sync(load)
        pages = await self._ingestion.pages(identity.tenant_slug, file_id)
        return {"object": "vector_store.file_content.page", "file_id": file_id,
                "data": [{"type": "text", "text": p} for p in pages], "has_more": False, "next_page": None}

    # Batches ----------------------------------------------------------------------------------

    @staticmethod
    def _batch(uow: TenantUnitOfWork, store_id: str, batch_id: str) -> VectorFileBatchRecord:
        record = uow.vector_stores.get_batch(batch_id)
        if record is None or record.store_id != store_id:
            raise NotFound(f"No file batch found with id '{batch_id}'.", param="batch_id")
        return record

    def _batch_object(self, uow: TenantUnitOfWork, record: VectorFileBatchRecord) -> dict:
        return batch_object(record, uow.vector_stores.batch_counts(record.id))

    async def create_batch(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/file_batches: file_ids (shared attributes) or files (each its own)."""
        if body.get("files") is not None:
            files = body["files"]
            if not isinstance(files, list) or not files or len(files) > MAX_BATCH_FILES:
                raise InvalidInput(f"'files' must be a list of 1-{MAX_BATCH_FILES} objects", param="files")
            entries = []
            for item in files:
                if not isinstance(item, dict):
                    raise InvalidInput("each of 'files' must be an object with a file_id", param="files")
                entries += self._entries([item.get("file_id")], item.get("chunking_strategy",
                                                                          body.get("chunking_strategy")),
                                         item.get("attributes", body.get("attributes")))
        else:
            entries = self._entries(body.get("file_ids"), body.get("chunking_strategy"), body.get("attributes"))
            if not entries:
                raise InvalidInput("'file_ids' must not be empty", param="file_ids")
        batch = VectorFileBatchRecord(id=new_id("vsfb"), store_id=store_id)

        def save() -> dict:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                uow.vector_stores.add_batch(batch)
                self._add_files(uow, identity, store_id, entries, batch.id)
                uow.commit()
                return self._batch_object(uow, batch)

        self._ingestion.require_room(len(entries))
        created = await anyio.to_thread.run_sync(save)
        self._ingestion.enqueue_many(identity, [(store_id, e[0]) for e in entries])
        return created

    async def get_batch(self, identity: ClientIdentity, store_id: str, batch_id: str) -> dict:
        """GET .../file_batches/{batch_id}."""
        def load() -> dict:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                return self._batch_object(uow, self._batch(uow, store_id, batch_id))

        return await anyio.to_thread.run_sync(load)

    async def cancel_batch(self, identity: ClientIdentity, store_id: str, batch_id: str) -> dict:
        """POST .../file_batches/{batch_id}/cancel: files not yet done are cancelled."""
        def cancel() -> dict:
            with self._tenant(identity) as uow:
                self._get(uow, store_id)
                record = self._batch(uow, store_id, batch_id)
                if record.status == "in_progress":
                    for f in uow.vector_stores.list_files(store_id, batch_id=batch_id, status="in_progress",
                                                          limit=MAX_BATCH_FILES + 1):
                        uow.vector_stores.update_file(store_id, f.file_id, {"status": "cancelled"})
                    record = uow.vector_stores.update_batch(batch_id, {"status": "cancelled"})
                uow.commit()
                return self._batch_object(uow, record)

        return await anyio.to_thread.run_sync(cancel)


