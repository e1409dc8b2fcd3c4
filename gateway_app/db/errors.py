"""Errors raised by the storage layer."""

from __future__ import annotations


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
