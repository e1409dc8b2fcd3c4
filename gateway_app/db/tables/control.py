"""Tables of the control database (console_main): tenant registry and platform-wide indexes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from gateway_app.db.tables.base import ControlTable, UtcDateTime, now_utc


class Tenant(ControlTable, table=True):
    """A tenant with its license (plan, features, limits, expiry)."""

    __tablename__ = "tenants"

    slug: str = Field(primary_key=True, max_length=63)
    name: str = Field(max_length=200)
    status: str = Field(default="active", max_length=20)
    plan: str = Field(default="standard", max_length=50)
    features: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    limits: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    license_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)


class PlatformAdmin(ControlTable, table=True):
    """A platform administrator."""

    __tablename__ = "platform_admins"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(unique=True, index=True, max_length=320)
    name: str = Field(default="", max_length=200)
    password_hash: str
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    session_version: int = Field(default=0)


class UserDirectory(ControlTable, table=True):
    """E-mail -> tenant of a console user, so login needs only an e-mail."""

    __tablename__ = "user_directory"

    email: str = Field(primary_key=True, max_length=320)
    tenant_slug: str = Field(index=True, max_length=63)
    user_id: str = Field(max_length=40)


class TokenIndex(ControlTable, table=True):
    """API token hash -> tenant, so a bearer token finds its tenant with one lookup."""

    __tablename__ = "token_index"

    token_hash: str = Field(primary_key=True, max_length=64)
    tenant_slug: str = Field(index=True, max_length=63)
    token_id: str = Field(max_length=40)
