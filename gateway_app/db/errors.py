"""Errors raised by the storage layer."""

from __future__ import annotations

from gateway_app.core.errors import Unavailable


class StoreError(Exception):
    """Base of storage errors."""


class DuplicateKey(StoreError):
    """A unique key (slug, e-mail, name) is already taken."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class TenantStoreMissing(StoreError):
    """The tenant's database does not exist."""


class InvalidSlug(StoreError, ValueError):
    """A tenant slug that must not become a file or database name."""


class StoreBusy(StoreError, Unavailable):
    """The database is locked or unreachable for now: retry shortly (HTTP 503 with Retry-After)."""

    code = "database_busy"
    status = 503

    def __init__(self, message: str = "the database is busy; retry shortly", retry_after: int = 2) -> None:
        StoreError.__init__(self, message)
        Unavailable.__init__(self, message)
        self.headers = {"Retry-After": str(retry_after)}
