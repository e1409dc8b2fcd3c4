"""Tenant slugs and the choice of storage backend."""

from __future__ import annotations

import re

from gateway_app.db.errors import InvalidSlug
from gateway_app.db.protocols import DataStore

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def validate_slug(slug: str) -> str:
    """Return the slug if it may become a file or database name, else raise InvalidSlug."""
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug(
            "tenant slug must be 2-63 characters of lower-case letters, digits and dashes, "
            "starting with a letter or digit"
        )
    return slug


def open_store(settings) -> DataStore:
    """The DataStore for DB_PROVIDER."""
    if settings.db_provider == "sqlite":
        from gateway_app.db.sqlite.store import SqliteStore

        return SqliteStore(settings.data_dir, max_open_tenants=settings.sqlite_max_open_tenants,
                           busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                           idle_seconds=settings.tenant_idle_seconds)
    from gateway_app.db.mongo.store import MongoStore

    return MongoStore(settings.mongodb_uri, prefix=settings.mongodb_db_prefix,
                      server_timeout_ms=settings.mongodb_timeout_ms)
