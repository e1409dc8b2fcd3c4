"""Tables of a tenant database (tenant_<slug>)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
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


class Project(TenantTable, table=True):
    """A project inside the tenant."""

    __tablename__ = "projects"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(unique=True, index=True, max_length=100)
    description: str = Field(default="", max_length=1000)
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
