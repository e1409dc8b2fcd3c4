"""Declarative bases: one registry (and MetaData) per database kind, plus shared column types."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

control_registry = registry()
tenant_registry = registry()


class ControlTable(SQLModel, registry=control_registry):
    """Base of tables in console_main."""


class TenantTable(SQLModel, registry=tenant_registry):
    """Base of tables in tenant_<slug>."""


class UtcDateTime(TypeDecorator):
    """Stores naive UTC in SQLite, always returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def now_utc() -> datetime:
    """Default for created/updated columns."""
    return datetime.now(UTC).replace(microsecond=0)
