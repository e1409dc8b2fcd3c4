"""Tables of a tenant database (tenant_<slug>)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field

from gateway_app.db.tables.base import TenantTable, UtcDateTime, now_utc


class User(TenantTable, table=True):
    """A console user of the tenant."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(unique=True, index=True, max_length=320)
    name: str = Field(default="", max_length=200)
    role: str = Field(default="member", max_length=20)
    password_hash: str
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    session_version: int = Field(default=0)


class Project(TenantTable, table=True):
    """A project inside the tenant."""

    __tablename__ = "projects"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    description: str = Field(default="", max_length=1000)
    limits: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    guardrails: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class ApiToken(TenantTable, table=True):
    """An API token (hash only)."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=20)
    project_id: str | None = Field(default=None, index=True, max_length=40)
    scopes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    limits: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    guardrails: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str = Field(default="", max_length=320)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AuditLog(TenantTable, table=True):
    """Audit trail of changes made in the tenant."""

    __tablename__ = "audit_log"

    id: str = Field(primary_key=True, max_length=40)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
    actor: str = Field(max_length=320)
    action: str = Field(max_length=100)
    target: str = Field(default="", max_length=200)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ProviderConfig(TenantTable, table=True):
    """An upstream provider (credentials encrypted)."""

    __tablename__ = "provider_configs"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    type: str = Field(max_length=30)
    base_url: str = Field(max_length=500)
    api_key_enc: str | None = Field(default=None)
    api_key_hint: str = Field(default="", max_length=40)
    api_version: str | None = Field(default=None, max_length=50)
    options: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    headers_enc: str | None = Field(default=None)
    header_hints: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class Model(TenantTable, table=True):
    """A public model name and where it goes."""

    __tablename__ = "models"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=200)
    provider_id: str = Field(index=True, max_length=40)
    upstream_model: str = Field(max_length=200)
    kind: str = Field(default="chat", max_length=20)
    fallbacks: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    input_price_per_1k: float = Field(default=0.0)
    output_price_per_1k: float = Field(default=0.0)
    rpm: int | None = Field(default=None)
    tpm: int | None = Field(default=None)
    enabled: bool = Field(default=True)
    guardrails: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class ModelUsageLog(TenantTable, table=True):
    """One row per client request."""

    __tablename__ = "model_usage_logs"
    # Most rows belong to no RAG module and no memory store: partial indexes leave those rows out, so
    # a usage commit writes two index pages fewer (with no request-id index, a third of the writer's
    # SQLite cost per tenant batch).
    # Queries on them repeat the condition (inference_repositories.py): SQLite uses a partial index
    # only when the query's WHERE contains its term.
    __table_args__ = (Index("ix_usage_token_at", "token_id", "at"), Index("ix_usage_model_at", "model", "at"),
                      Index("ix_usage_rag_module_at", "rag_module", "at", sqlite_where=text("rag_module != ''")),
                      Index("ix_usage_memory_store_at", "memory_store", "at", sqlite_where=text("memory_store != ''")))

    id: str = Field(primary_key=True, max_length=40)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
    request_id: str = Field(max_length=128)  # no index: no query looks a row up by it
    project_id: str | None = Field(default=None, max_length=40)
    token_id: str = Field(default="", max_length=40)
    model: str = Field(max_length=200)
    upstream_model: str = Field(default="", max_length=200)
    provider_id: str = Field(default="", max_length=40)
    kind: str = Field(default="chat", max_length=20)
    status: int = Field(default=200)
    error_type: str = Field(default="", max_length=100)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    latency_ms: float = Field(default=0.0)
    ttft_ms: float | None = Field(default=None)
    stream: bool = Field(default=False)
    fallback: bool = Field(default=False)
    prompt: str = Field(default="", max_length=240, sa_column_kwargs={"server_default": ""})
    guardrail: str = Field(default="", max_length=240, sa_column_kwargs={"server_default": ""})
    rag_module: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})
    memory_store: str = Field(default="", max_length=100, sa_column_kwargs={"server_default": ""})


class UsageHourly(TenantTable, table=True):
    """Hourly roll-up per model, token and project."""

    __tablename__ = "usage_hourly"

    hour: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    model: str = Field(primary_key=True, max_length=200)
    token_id: str = Field(primary_key=True, max_length=40)
    project_id: str = Field(primary_key=True, max_length=40)
    requests: int = Field(default=0)
    errors: int = Field(default=0)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    latency_ms_sum: float = Field(default=0.0)
    latency_buckets: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    blocked: int = Field(default=0)


class StoredFile(TenantTable, table=True):
    """Metadata of a file held by a provider for this tenant."""

    __tablename__ = "files"

    id: str = Field(primary_key=True, max_length=200)
    provider_id: str = Field(max_length=40)
    filename: str = Field(max_length=500)
    purpose: str = Field(max_length=50)
    bytes: int = Field(default=0)
    status: str = Field(default="uploaded", max_length=30)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)


class TracingSession(TenantTable, table=True):
    """agent_tracing_sessions."""

    __tablename__ = "agent_tracing_sessions"

    id: str = Field(primary_key=True, max_length=128)
    name: str = Field(default="", max_length=300)
    user: str = Field(default="", max_length=300, index=True)
    status: str = Field(default="running", max_length=20)
    tags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    metadata_: dict = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    started_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class TracingEvent(TenantTable, table=True):
    """agent_tracing_events."""

    __tablename__ = "agent_tracing_events"

    id: str = Field(primary_key=True, max_length=128)
    session_id: str = Field(index=True, max_length=128)
    parent_id: str | None = Field(default=None, max_length=128)
    type: str = Field(default="custom", max_length=20)
    name: str = Field(default="", max_length=300)
    status: str = Field(default="ok", max_length=20)
    input: str | None = Field(default=None)
    output: str | None = Field(default=None)
    model: str = Field(default="", max_length=200)
    prompt_tokens: int = Field(default=0)
    completion_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    metadata_: dict = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    started_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Prompt(TenantTable, table=True):
    """A prompt and its labels."""

    __tablename__ = "prompts"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=200)
    description: str = Field(default="", max_length=2000)
    project_id: str | None = Field(default=None, max_length=40)
    latest_version: int = Field(default=0)
    labels: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class PromptVersion(TenantTable, table=True):
    """An immutable prompt version."""

    __tablename__ = "prompt_versions"
    __table_args__ = (Index("ux_prompt_version", "prompt_id", "version", unique=True),)

    id: str = Field(primary_key=True, max_length=40)
    prompt_id: str = Field(max_length=40)
    version: int
    messages: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    variables: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    model: str = Field(default="", max_length=200)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author: str = Field(default="", max_length=320)
    message: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class GuardrailPolicy(TenantTable, table=True):
    """guardrails."""

    __tablename__ = "guardrails"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=200)
    description: str = Field(default="", max_length=2000)
    mode: str = Field(default="enforce", max_length=20)
    rules: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class GuardrailVerdict(TenantTable, table=True):
    """Recorded guardrail decisions."""

    __tablename__ = "guardrail_verdicts"

    id: str = Field(primary_key=True, max_length=40)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
    policy: str = Field(max_length=200, index=True)
    direction: str = Field(max_length=10)
    action: str = Field(max_length=10)
    mode: str = Field(default="enforce", max_length=20)
    rules: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    matches: int = Field(default=0)
    latency_ms: float = Field(default=0.0)
    request_id: str = Field(default="", max_length=128)
    token_id: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=200)


class VectorIndex(TenantTable, table=True):
    """vector_indexes: a vector store's metadata (its chunks are in Chroma)."""

    __tablename__ = "vector_indexes"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(default="", max_length=256)
    embedding_model: str = Field(max_length=200)
    metadata_: dict = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    expires_after: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    dimensions: int | None = Field(default=None)
    usage_bytes: int = Field(default=0)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
    last_active_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class VectorStoreFile(TenantTable, table=True):
    """vector_store_files: one file in one store, with its ingestion status."""

    __tablename__ = "vector_store_files"
    __table_args__ = (Index("ix_vector_store_files_status", "status", "created_at"),)

    store_id: str = Field(primary_key=True, max_length=40)
    file_id: str = Field(primary_key=True, max_length=200, index=True)
    status: str = Field(default="in_progress", max_length=20)
    attributes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    chunking: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    batch_id: str | None = Field(default=None, max_length=40, index=True)
    token_id: str = Field(default="", max_length=64)
    usage_bytes: int = Field(default=0)
    chunks: int = Field(default=0)
    last_error: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class VectorFileBatch(TenantTable, table=True):
    """vector_file_batches."""

    __tablename__ = "vector_file_batches"

    id: str = Field(primary_key=True, max_length=40)
    store_id: str = Field(max_length=40, index=True)
    status: str = Field(default="in_progress", max_length=20)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class RagModule(TenantTable, table=True):
    """rag_modules: a named retrieval-augmented answering configuration."""

    __tablename__ = "rag_modules"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    description: str = Field(default="", max_length=1000)
    model: str = Field(max_length=200)
    vector_store_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    prompt: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    top_k: int = Field(default=5)
    score_threshold: float = Field(default=0.0)
    max_context_tokens: int = Field(default=3000)
    filters: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    no_results: str = Field(default="answer", max_length=20)
    rerank_model: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


from gateway_app.db.tables import memory as _memory  # noqa: E402,F401 - registers the memory tables
from gateway_app.db.tables import alerts as _alerts  # noqa: E402,F401 - registers the alert tables
from gateway_app.db.tables import responses as _responses  # noqa: E402,F401 - registers the responses table
