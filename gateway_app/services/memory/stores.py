"""Memory stores of a tenant: CRUD for operators (validated against the tenant's models and prompts) and a
cached lookup for the client API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import DataStore, TenantUnitOfWork
from gateway_app.db.records import MemoryStoreRecord, utcnow
from gateway_app.services import audit
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.console_identity import console_identity
from gateway_app.services.principals import Principal
from gateway_app.services.rag.modules import PromptRef, check_model, check_prompt, unprocessable
from gateway_app.services.tenant_access import TenantAccess
from gateway_app.services.vector.chroma_layer import VectorLayer

StoreName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class MemoryStoreCreate(BaseModel):
    """Input to create a memory store."""

    model_config = ConfigDict(extra="forbid")

    name: StoreName
    description: str = Field(default="", max_length=1000)
    embedding_model: str = Field(min_length=1, max_length=200)
    extraction_model: str = Field(min_length=1, max_length=200)
    similarity_threshold: float = Field(default=0.95, ge=0.0, le=1.0)
    top_k: int = Field(default=5, ge=1, le=100)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    prompt: PromptRef | None = None


class MemoryStoreUpdate(BaseModel):
    """Changes to a memory store (send only what changes; null clears retention_days and prompt).

    The embedding model is fixed once vectors exist: its vectors would not compare with the new model's.
    """

    model_config = ConfigDict(extra="forbid")

    name: StoreName | None = None
    description: str | None = Field(default=None, max_length=1000)
    embedding_model: str | None = Field(default=None, min_length=1, max_length=200)
    extraction_model: str | None = Field(default=None, min_length=1, max_length=200)
    similarity_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=1, le=100)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    prompt: PromptRef | None = None


class MemoryStoreOut(BaseModel):
    """A memory store."""

    id: str
    name: str
    description: str
    embedding_model: str
    extraction_model: str
    similarity_threshold: float
    top_k: int
    retention_days: int | None
    prompt: PromptRef | None
    memories: int = 0
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: MemoryStoreRecord, memories: int = 0) -> MemoryStoreOut:
        """Build from a stored record."""
        return cls(id=record.id, name=record.name, description=record.description,
                   embedding_model=record.embedding_model, extraction_model=record.extraction_model,
                   similarity_threshold=record.similarity_threshold, top_k=record.top_k,
                   retention_days=record.retention_days, prompt=PromptRef(**record.prompt) if record.prompt else None,
                   memories=memories, created_at=record.created_at, updated_at=record.updated_at)


def find_store(uow: TenantUnitOfWork, ref: str) -> MemoryStoreRecord:
    """A memory store by id or name, or NotFound."""
    record = uow.memory.get(ref) or uow.memory.get_by_name(ref)
    if record is None:
        raise NotFound(f"memory store {ref!r} not found", param="store")
    return record


def _check_references(uow: TenantUnitOfWork, changes: dict) -> None:
    try:
        check_model(uow, changes.get("embedding_model"), "embedding_model", "embedding")
        check_model(uow, changes.get("extraction_model"), "extraction_model", "chat")
        check_prompt(uow, changes.get("prompt"))
    except InvalidInput as exc:
        raise unprocessable(exc) from None


class MemoryStoreService:
    """Operators' CRUD of memory stores, and the client API's cached lookup."""

    def __init__(self, store: DataStore, access: TenantAccess, generation: Generation, layer: VectorLayer) -> None:
        self._store = store
        self._access = access
        self._generation = generation
        self._layer = layer
        self._cache: LocalLookupCache[MemoryStoreRecord] = LocalLookupCache(generation, ttl=300.0)

    def list(self, actor: Principal, tenant: str | None, offset: int = 0, limit: int = 100) -> list[MemoryStoreOut]:
        """Stores by name, with their memory counts."""
        with self._access.open(actor, tenant) as uow:
            return [MemoryStoreOut.of(s, uow.memory.count_memories(s.id))
                    for s in uow.memory.list(offset=offset, limit=limit)]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> MemoryStoreOut:
        """One store by id or name."""
        with self._access.open(actor, tenant) as uow:
            record = find_store(uow, ref)
            return MemoryStoreOut.of(record, uow.memory.count_memories(record.id))

    def create(self, actor: Principal, tenant: str | None, data: MemoryStoreCreate) -> MemoryStoreOut:
        """Add a store whose models and prompt exist in the tenant."""
        actor.require_write()
        fields = data.model_dump()
        with self._access.open(actor, tenant) as uow:
            _check_references(uow, fields)
            if uow.memory.get_by_name(data.name):
                raise Conflict(f"memory store {data.name!r} already exists", param="name")
            record = MemoryStoreRecord(**fields)
            try:
                uow.memory.add(record)
            except DuplicateKey:
                raise Conflict(f"memory store {data.name!r} already exists", param="name") from None
            audit.record(uow, actor, "memory_store.create", record.id, name=record.name)
            uow.commit()
        return MemoryStoreOut.of(record)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: MemoryStoreUpdate) -> MemoryStoreOut:
        """Change a store; its cached copy in every process is dropped."""
        actor.require_write()
        nullable = {"prompt", "retention_days"}
        changes = {k: getattr(data, k) for k in data.model_fields_set
                   if getattr(data, k) is not None or k in nullable}
        if changes.get("prompt") is not None:
            changes["prompt"] = data.prompt.model_dump()  # type: ignore[union-attr]
        with self._access.open(actor, tenant) as uow:
            current = find_store(uow, ref)
            _check_references(uow, changes)
            if ("embedding_model" in changes and changes["embedding_model"] != current.embedding_model
                    and uow.memory.count_memories(current.id)):
                raise Conflict("the embedding model of a store holding memories cannot change (their vectors "
                               "would not compare); create another store", param="embedding_model")
            if "name" in changes and changes["name"] != current.name and uow.memory.get_by_name(changes["name"]):
                raise Conflict(f"memory store {changes['name']!r} already exists", param="name")
            record = uow.memory.update(current.id, {**changes, "updated_at": utcnow()})
            audit.record(uow, actor, "memory_store.update", current.id, fields=sorted(changes))
            memories = uow.memory.count_memories(current.id)
            uow.commit()
        self._generation.notify(uow.tenant_slug)
        return MemoryStoreOut.of(record, memories)  # type: ignore[arg-type]

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Delete a store with its memories, history and vectors."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_store(uow, ref)
            uow.memory.delete(current.id)
            audit.record(uow, actor, "memory_store.delete", current.id, name=current.name)
            uow.commit()
        self._layer.drop_store(uow.tenant_slug, current.id)
        self._generation.notify(uow.tenant_slug)

    def console_identity(self, actor: Principal, tenant: str | None, *, write: bool = False) -> ClientIdentity:
        """The console user acting on a tenant's memory stores; usage is recorded under 'console:<user>'."""
        return console_identity(self._access, actor, tenant, feature="memory", what="Memory", write=write)

    # Client API -------------------------------------------------------------------------------

    def _load(self, tenant: str, ref: str) -> MemoryStoreRecord:
        with self._store.tenant(tenant) as uow:
            return find_store(uow, ref)

    async def store(self, tenant: str, ref: str) -> MemoryStoreRecord:
        """A store by name or id for a client call (cached until the tenant's configuration changes)."""
        return await self._cache.get_or_load(f"{tenant}:{ref}", tenant, lambda: self._load(tenant, ref))

    def fix_dimensions(self, tenant: str, record: MemoryStoreRecord, dimensions: int) -> None:
        """Record the dimensions of a store's first vectors (a mismatch later is a 502 naming the model)."""
        with self._store.tenant(tenant) as uow:
            current = uow.memory.get(record.id)
            if current is not None and current.dimensions is None:
                uow.memory.update(record.id, {"dimensions": dimensions})
                uow.commit()
        record.dimensions = dimensions
        self._generation.notify(tenant)
