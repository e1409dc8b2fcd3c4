"""Opening a tenant's unit of work on behalf of a principal: the one gate to tenant data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway_app.core.errors import NotFound
from gateway_app.core.batch_writer import DropBatch
from gateway_app.db.errors import InvalidSlug, TenantStoreMissing
from gateway_app.db.protocols import DataStore, TenantUnitOfWork
from gateway_app.db.records import TenantRecord
from gateway_app.db.tenancy import validate_slug
from gateway_app.services.principals import Principal


def load_tenant(store: DataStore, slug: str) -> TenantRecord:
    """The tenant's record; NotFound for unknown or unsafe slugs."""
    try:
        validate_slug(slug)
    except InvalidSlug:
        raise NotFound(f"tenant {slug!r} not found") from None
    with store.control() as uow:
        record = uow.tenants.get(slug)
    if record is None:
        raise NotFound(f"tenant {slug!r} not found")
    return record


class TenantAccess:
    """Checks that a principal may act on a tenant, then opens that tenant's unit of work."""

    def __init__(self, store: DataStore) -> None:
        self._store = store

    def check(self, actor: Principal, tenant: str | None) -> TenantRecord:
        """The tenant's record if the actor may use it, else NotFound/PermissionDenied."""
        return load_tenant(self._store, actor.tenant_scope(tenant))

    def open(self, actor: Principal, tenant: str | None) -> TenantUnitOfWork:
        """A unit of work on the tenant's database, for this actor."""
        record = self.check(actor, tenant)
        try:
            return self._store.tenant(record.slug)
        except TenantStoreMissing:
            raise NotFound(f"tenant {record.slug!r} has no database") from None


@contextmanager
def writing_to(store: DataStore, slug: str) -> Iterator[TenantUnitOfWork]:
    """A tenant's unit of work for a batch writer: a tenant that is gone is DropBatch, not a retry."""
    with dropping_missing(slug):
        uow = store.tenant(slug)
    with uow:
        yield uow


@contextmanager
def dropping_missing(slug: str) -> Iterator[None]:
    """For batch writers: a tenant that is gone (or never was) is DropBatch, not a retry."""
    try:
        yield
    except (TenantStoreMissing, InvalidSlug) as exc:
        raise DropBatch(f"tenant {slug!r} has no database") from exc
