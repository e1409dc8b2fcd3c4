"""Tables of a tenant database for memory stores: stores, memories, their history and async adds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from gateway_app.db.tables.base import TenantTable, UtcDateTime, now_utc


class MemoryStore(TenantTable, table=True):
    """memory_stores: a named store of long-term memories."""

    __tablename__ = "memory_stores"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    description: str = Field(default="", max_length=1000)
    embedding_model: str = Field(max_length=200)
    extraction_model: str = Field(max_length=200)
    similarity_threshold: float = Field(default=0.95)
    top_k: int = Field(default=5)
    retention_days: int | None = Field(default=None)
    prompt: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    dimensions: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class Memory(TenantTable, table=True):
    """memories: one fact, scoped by user, agent and run."""

    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_scope", "store_id", "user_id", "agent_id", "run_id"),
                      Index("ix_memories_store_created", "store_id", "created_at", "id"),
                      Index("ix_memories_hash", "store_id", "hash"))

    id: str = Field(primary_key=True, max_length=40)
    store_id: str = Field(max_length=40)
    text: str = Field(max_length=4000)
    hash: str = Field(max_length=64)
    user_id: str = Field(default="", max_length=200)
    agent_id: str = Field(default="", max_length=200)
    run_id: str = Field(default="", max_length=200)
    metadata_: dict = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class MemoryEvent(TenantTable, table=True):
    """memory_history: every change of every memory, kept after the memory is gone."""

    __tablename__ = "memory_history"
    __table_args__ = (Index("ix_memory_history_memory", "memory_id", "at"),
                      Index("ix_memory_history_store_at", "store_id", "at"),
                      Index("ix_memory_history_user", "store_id", "user_id"))

    id: str = Field(primary_key=True, max_length=40)
    store_id: str = Field(max_length=40)
    memory_id: str = Field(max_length=40)
    event: str = Field(max_length=20)
    old_text: str | None = Field(default=None, max_length=4000)
    new_text: str | None = Field(default=None, max_length=4000)
    actor: str = Field(default="", max_length=400)
    user_id: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class MemoryJob(TenantTable, table=True):
    """memory_jobs: asynchronous adds and their outcome."""

    __tablename__ = "memory_jobs"

    id: str = Field(primary_key=True, max_length=40)
    store_id: str = Field(max_length=40, index=True)
    status: str = Field(default="in_progress", max_length=20)
    results: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    token_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
