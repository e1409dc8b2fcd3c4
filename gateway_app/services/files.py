"""Files API, recorded per tenant so no other tenant can see or reach them.

Files for vector stores (purposes `assistants` and `user_data`) stay with the gateway, which
ingests them; the other purposes (batch, fine-tune, ...) go to a provider's files API.
"""

from __future__ import annotations

from typing import BinaryIO

import anyio

from gateway_app.core.crypto import SecretBox
from gateway_app.core.errors import InvalidInput, NotFound
from gateway_app.core.runtime_pool import RuntimePool
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import FileRecord
from gateway_app.providers.base import ProviderSpec, UpstreamError
from gateway_app.providers.factory import FILES_TYPES, RuntimeFactory
from gateway_app.providers.http import clean_text
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.file_storage import LOCAL_PROVIDER, LocalFileStorage, new_file_id
from gateway_app.services.inference.errors import client_error
from gateway_app.services.providers import provider_spec

MAX_FILE_BYTES = 512 * 1024 * 1024
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
LOCAL_PURPOSES = ("assistants", "user_data")  # read by the gateway's own vector store ingestion


def file_object(record: FileRecord) -> dict:
    """OpenAI's file object."""
    return {"id": record.id, "object": "file", "bytes": record.bytes, "created_at": int(record.created_at.timestamp()),
            "filename": record.filename, "purpose": record.purpose, "status": "processed"}


def _size_of(file: BinaryIO) -> int:
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size


class FileService:
    """Upload, list, read and delete files for the calling token's tenant."""

    def __init__(self, store: DataStore, box: SecretBox, pool: RuntimePool, runtimes: RuntimeFactory,
                 storage: LocalFileStorage) -> None:
        self._store = store
        self.storage = storage
        self._box = box
        self._pool = pool
        self._runtimes = runtimes

    def _provider(self, tenant: str, ref: str | None, provider_id: str | None = None) -> ProviderSpec:
        with self._store.tenant(tenant) as uow:
            if provider_id:
                record = uow.providers.get(provider_id)
            elif ref:
                record = uow.providers.get_by_name(ref) or uow.providers.get(ref)
            else:
                record = next((p for p in uow.providers.list() if p.enabled and p.type in FILES_TYPES), None)
        if record is None:
            raise NotFound("no provider with a files API is configured" if not ref else f"provider {ref!r} not found",
                           param="provider")
        if record.type not in FILES_TYPES:
            raise InvalidInput(f"provider {record.name!r} ({record.type}) has no files API", param="provider")
        return provider_spec(tenant, record, self._box)

    async def _client(self, spec: ProviderSpec):
        return await self._pool.get(f"{spec.key}:files", spec.fingerprint, lambda: self._runtimes.files(spec))

    def _record(self, tenant: str, file_id: str) -> FileRecord:
        with self._store.tenant(tenant) as uow:
            record = uow.files.get(file_id)
        if record is None:
            raise NotFound(f"No such File object: {file_id}", param="file_id")
        return record

    async def upload(self, identity: ClientIdentity, filename: str, file: BinaryIO, purpose: str,
                     provider: str | None = None) -> dict:
        """Stream the file (a seekable file object, e.g. the spooled upload) to the provider; remember it."""
        if purpose not in PURPOSES:
            raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}", param="purpose")
        size = await anyio.to_thread.run_sync(_size_of, file)
        if not size:
            raise InvalidInput("the file is empty", param="file")
        if size > MAX_FILE_BYTES:
            raise InvalidInput("the file is larger than 512 MB", param="file")
        name = clean_text(filename, 255) or "upload"
        if purpose in LOCAL_PURPOSES and provider is None:
            record = FileRecord(id=new_file_id(), provider_id=LOCAL_PROVIDER, filename=name, purpose=purpose,
                                bytes=size)
            record.bytes = await anyio.to_thread.run_sync(self.storage.save, identity.tenant_slug, record.id, file)
        else:
            record = await self._upload_to_provider(identity, name, file, size, purpose, provider)

        def save() -> None:
            with self._store.tenant(identity.tenant_slug) as uow:
                uow.files.add(record)
                uow.commit()

        await anyio.to_thread.run_sync(save)
        return file_object(record)

    async def _upload_to_provider(self, identity: ClientIdentity, name: str, file: BinaryIO, size: int, purpose: str,
                                  provider: str | None) -> FileRecord:
        spec = await anyio.to_thread.run_sync(self._provider, identity.tenant_slug, provider)
        client = await self._client(spec)
        try:
            uploaded = await client.create(name, file, size, purpose)
        except UpstreamError as exc:
            raise client_error(exc, f"files@{spec.name}") from None
        return FileRecord(id=uploaded.id, provider_id=spec.key.split(":", 1)[1], filename=uploaded.filename or name,
                          purpose=uploaded.purpose if uploaded.purpose in PURPOSES else purpose,
                          bytes=uploaded.bytes or size)

    async def list(self, identity: ClientIdentity, purpose: str | None = None) -> dict:
        """The tenant's files, newest first."""
        def load() -> list[FileRecord]:
            with self._store.tenant(identity.tenant_slug) as uow:
                return uow.files.list(purpose=purpose)

        records = await anyio.to_thread.run_sync(load)
        return {"object": "list", "data": [file_object(r) for r in records], "has_more": False}

    async def get(self, identity: ClientIdentity, file_id: str) -> dict:
        """One of the tenant's files."""
        return file_object(await anyio.to_thread.run_sync(self._record, identity.tenant_slug, file_id))

    async def content(self, identity: ClientIdentity, file_id: str) -> bytes:
        """The file's bytes, fetched from its provider."""
        record = await anyio.to_thread.run_sync(self._record, identity.tenant_slug, file_id)
        if record.provider_id == LOCAL_PROVIDER:
            return await anyio.to_thread.run_sync(self.storage.read, identity.tenant_slug, file_id)
        spec = await anyio.to_thread.run_sync(self._provider, identity.tenant_slug, None, record.provider_id)
        try:
            return await (await self._client(spec)).content(file_id)
        except UpstreamError as exc:
            raise client_error(exc, f"files@{spec.name}") from None

    async def delete(self, identity: ClientIdentity, file_id: str) -> dict:
        """Delete at the provider (or here), then forget it. Its chunks stay in vector stores, as OpenAI's do."""
        record = await anyio.to_thread.run_sync(self._record, identity.tenant_slug, file_id)
        if record.provider_id == LOCAL_PROVIDER:
            await anyio.to_thread.run_sync(self.storage.delete, identity.tenant_slug, file_id)
        else:
            spec = await anyio.to_thread.run_sync(self._provider, identity.tenant_slug, None, record.provider_id)
            try:
                await (await self._client(spec)).delete(file_id)
            except UpstreamError as exc:
                if exc.status != 404:
                    raise client_error(exc, f"files@{spec.name}") from None

        def forget() -> None:
            with self._store.tenant(identity.tenant_slug) as uow:
                uow.files.delete(file_id)
                uow.commit()

        await anyio.to_thread.run_sync(forget)
        return {"id": file_id, "object": "file", "deleted": True}
