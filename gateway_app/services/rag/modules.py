"""RAG modules of a tenant: CRUD for operators (validated against the tenant's stores, models and
prompts) and a cached lookup for the client API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway_app.core.errors import Conflict, InvalidInput, NotFound
from gateway_app.core.invalidation import Generation, LocalLookupCache
from gateway_app.db.errors import DuplicateKey
from gateway_app.db.protocols import DataStore, TenantUnitOfWork
from gateway_app.db.records import RagModuleRecord, utcnow
from gateway_app.services import audit
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.console_identity import console_identity
from gateway_app.services.principals import Principal
from gateway_app.services.tenant_access import TenantAccess
from gateway_app.services.vector.filters import to_where

ModuleName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
MAX_STORES = 10


class PromptRef(BaseModel):
    """A stored prompt by name, at a label or a version (default: production, else latest)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, max_length=50)
    version: int | None = Field(default=None, ge=1)


class RagModuleCreate(BaseModel):
    """Input to create a RAG module."""

    model_config = ConfigDict(extra="forbid")

    name: ModuleName
    description: str = Field(default="", max_length=1000)
    vector_store_ids: list[str] = Field(min_length=1, max_length=MAX_STORES)
    model: str = Field(min_length=1, max_length=200)
    prompt: PromptRef | None = None
    top_k: int = Field(default=5, ge=1, le=50)
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    max_context_tokens: int = Field(default=3000, ge=100, le=100_000)
    filters: dict | None = None
    no_results: Literal["answer", "error"] = "answer"
    rerank_model: str | None = Field(default=None, max_length=200)


class RagModuleUpdate(BaseModel):
    """Changes to a RAG module (send only what changes; null clears prompt, filters, rerank_model)."""

    model_config = ConfigDict(extra="forbid")

    name: ModuleName | None = None
    description: str | None = Field(default=None, max_length=1000)
    vector_store_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_STORES)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: PromptRef | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    max_context_tokens: int | None = Field(default=None, ge=100, le=100_000)
    filters: dict | None = None
    no_results: Literal["answer", "error"] | None = None
    rerank_model: str | None = Field(default=None, max_length=200)


class RagModuleOut(BaseModel):
    """A RAG module."""

    id: str
    name: str
    description: str
    vector_store_ids: list[str]
    model: str
    prompt: PromptRef | None
    top_k: int
    score_threshold: float
    max_context_tokens: int
    filters: dict | None
    no_results: str
    rerank_model: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: RagModuleRecord) -> RagModuleOut:
        """Build from a stored record."""
        return cls(id=record.id, name=record.name, description=record.description,
                   vector_store_ids=list(record.vector_store_ids), model=record.model,
                   prompt=PromptRef(**record.prompt) if record.prompt else None, top_k=record.top_k,
                   score_threshold=record.score_threshold, max_context_tokens=record.max_context_tokens,
                   filters=record.filters, no_results=record.no_results, rerank_model=record.rerank_model,
                   created_at=record.created_at, updated_at=record.updated_at)


def find_module(uow: TenantUnitOfWork, ref: str) -> RagModuleRecord:
    """A module by id or name, or NotFound."""
    record = uow.rag_modules.get(ref) or uow.rag_modules.get_by_name(ref)
    if record is None:
        raise NotFound(f"RAG module {ref!r} not found", param="module")
    return record


def check_model(uow: TenantUnitOfWork, name: str | None, field: str, kind: str) -> None:
    """A named model must be one of the tenant's models of this kind (422 naming the field)."""
    if name:
        model = uow.models.get_by_name(name)
        if model is None or model.kind != kind:
            raise InvalidInput(f"{field} {name!r} is not {'an' if kind[0] in 'ae' else 'a'} {kind} model of this "
                               "tenant", param=field)


def check_prompt(uow: TenantUnitOfWork, prompt: dict | None) -> None:
    """A prompt reference must name a stored prompt and one of its labels or versions."""
    if prompt:
        stored = uow.prompts.get_by_name(prompt["name"])
        if stored is None:
            raise InvalidInput(f"prompt {prompt['name']!r} not found", param="prompt")
        if prompt.get("label") and prompt["label"] not in stored.labels:
            raise InvalidInput(f"prompt {prompt['name']!r} has no label {prompt['label']!r}", param="prompt")
        if prompt.get("version") and prompt["version"] > stored.latest_version:
            raise InvalidInput(f"prompt {prompt['name']!r} has no version {prompt['version']}", param="prompt")


def _check_references(uow: TenantUnitOfWork, changes: dict) -> None:
    """Unknown stores, models or prompts of this tenant are a 422 naming them."""
    store_ids = changes.get("vector_store_ids") or []
    for store_id in store_ids:
        if uow.vector_stores.get(store_id) is None:
            raise InvalidInput(f"vector store {store_id!r} not found", param="vector_store_ids")
    if len(set(store_ids)) != len(store_ids):
        raise InvalidInput("'vector_store_ids' lists a store twice", param="vector_store_ids")
    for field in ("model", "rerank_model"):
        check_model(uow, changes.get(field), field, "chat")
    check_prompt(uow, changes.get("prompt"))
    if changes.get("filters") is not None:
        to_where(changes["filters"])  # OpenAI's filter shape, checked as a search would check it


def unprocessable(exc: InvalidInput) -> InvalidInput:
    """The same error as a 422 (a management call naming something that does not exist)."""
    exc.status = 422
    return exc


class RagModuleService:
    """Operators' CRUD of RAG modules, and the client API's cached lookup."""

    def __init__(self, store: DataStore, access: TenantAccess, generation: Generation) -> None:
        self._store = store
        self._access = access
        self._generation = generation
        self._cache: LocalLookupCache[RagModuleRecord] = LocalLookupCache(generation, ttl=300.0)

    def list(self, actor: Principal, tenant: str | None, offset: int = 0, limit: int = 100) -> list[RagModuleOut]:
        """Modules by name."""
        with self._access.open(actor, tenant) as uow:
            return [RagModuleOut.of(m) for m in uow.rag_modules.list(offset=offset, limit=limit)]

    def get(self, actor: Principal, tenant: str | None, ref: str) -> RagModuleOut:
        """One module by id or name."""
        with self._access.open(actor, tenant) as uow:
            return RagModuleOut.of(find_module(uow, ref))

    def create(self, actor: Principal, tenant: str | None, data: RagModuleCreate) -> RagModuleOut:
        """Add a module whose stores, models and prompt exist in the tenant."""
        actor.require_write()
        fields = data.model_dump()
        with self._access.open(actor, tenant) as uow:
            try:
                _check_references(uow, fields)
            except InvalidInput as exc:
                raise unprocessable(exc) from None
            if uow.rag_modules.get_by_name(data.name):
                raise Conflict(f"RAG module {data.name!r} already exists", param="name")
            record = RagModuleRecord(**fields)
            try:
                uow.rag_modules.add(record)
            except DuplicateKey:
                raise Conflict(f"RAG module {data.name!r} already exists", param="name") from None
            audit.record(uow, actor, "rag_module.create", record.id, name=record.name)
            uow.commit()
        return RagModuleOut.of(record)

    def update(self, actor: Principal, tenant: str | None, ref: str, data: RagModuleUpdate) -> RagModuleOut:
        """Change a module; its cached copy in every process is dropped."""
        actor.require_write()
        nullable = {"prompt", "filters", "rerank_model"}
        changes = {k: getattr(data, k) for k in data.model_fields_set
                   if getattr(data, k) is not None or k in nullable}
        if changes.get("prompt") is not None:
            changes["prompt"] = data.prompt.model_dump()  # type: ignore[union-attr]
        with self._access.open(actor, tenant) as uow:
            current = find_module(uow, ref)
            try:
                _check_references(uow, changes)
            except InvalidInput as exc:
                raise unprocessable(exc) from None
            if "name" in changes and changes["name"] != current.name and uow.rag_modules.get_by_name(changes["name"]):
                raise Conflict(f"RAG module {changes['name']!r} already exists", param="name")
            record = uow.rag_modules.update(current.id, {**changes, "updated_at": utcnow()})
            audit.record(uow, actor, "rag_module.update", current.id, fields=sorted(changes))
            uow.commit()
        self._generation.notify(uow.tenant_slug)
        return RagModuleOut.of(record)  # type: ignore[arg-type]

    def delete(self, actor: Principal, tenant: str | None, ref: str) -> None:
        """Delete a module (its stores stay)."""
        actor.require_write()
        with self._access.open(actor, tenant) as uow:
            current = find_module(uow, ref)
            uow.rag_modules.delete(current.id)
            audit.record(uow, actor, "rag_module.delete", current.id, name=current.name)
            uow.commit()
        self._generation.notify(uow.tenant_slug)

    def console_identity(self, actor: Principal, tenant: str | None, *, write: bool = False) -> ClientIdentity:
        """The console user asking a tenant's modules (test panel); usage is recorded under 'console:<user>'."""
        return console_identity(self._access, actor, tenant, feature="rag", what="RAG", write=write)

    # Client API -------------------------------------------------------------------------------

    def _load(self, tenant: str, name: str) -> RagModuleRecord:
        with self._store.tenant(tenant) as uow:
            return find_module(uow, name)

    async def module(self, tenant: str, name: str) -> RagModuleRecord:
        """A module by name for a client call (cached until the tenant's configuration changes)."""
        return await self._cache.get_or_load(f"{tenant}:{name}", tenant, lambda: self._load(tenant, name))
