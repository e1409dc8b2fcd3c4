"""SQLite repositories of the control database."""

from __future__ import annotations

from sqlalchemy import delete, func, or_
from sqlmodel import select

from gateway_app.db.records import DirectoryEntry, PlatformAdminRecord, TenantRecord, TokenIndexEntry
from gateway_app.db.sqlite.base_repository import SqlRepository
from gateway_app.db.tables.control import PlatformAdmin, Tenant, TokenIndex, UserDirectory


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlTenantRepository(SqlRepository[Tenant, TenantRecord]):
    table, record, pk = Tenant, TenantRecord, "slug"

    def _filtered(self, query, search: str):
        if search:
            pattern = f"%{_escape_like(search.lower())}%"
            query = query.where(or_(
                func.lower(Tenant.slug).like(pattern, escape="\\"),
                func.lower(Tenant.name).like(pattern, escape="\\"),
            ))
        return query

    def list(self, search: str = "", offset: int = 0, limit: int = 50) -> list[TenantRecord]:
        query = self._filtered(select(Tenant), search).order_by(Tenant.slug).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]

    def count(self, search: str = "") -> int:
        query = self._filtered(select(func.count()).select_from(Tenant), search)
        return int(self._session.exec(query).one())


class SqlPlatformAdminRepository(SqlRepository[PlatformAdmin, PlatformAdminRecord]):
    table, record = PlatformAdmin, PlatformAdminRecord

    def get_by_email(self, email: str) -> PlatformAdminRecord | None:
        row = self._session.exec(select(PlatformAdmin).where(PlatformAdmin.email == email)).first()
        return None if row is None else self._to_record(row)

    def count(self) -> int:
        return int(self._session.exec(select(func.count()).select_from(PlatformAdmin)).one())


class SqlDirectoryRepository(SqlRepository[UserDirectory, DirectoryEntry]):
    table, record, pk = UserDirectory, DirectoryEntry, "email"

    def delete_tenant(self, tenant_slug: str) -> int:
        result = self._session.exec(delete(UserDirectory).where(UserDirectory.tenant_slug == tenant_slug))
        return result.rowcount or 0


class SqlTokenIndexRepository(SqlRepository[TokenIndex, TokenIndexEntry]):
    table, record, pk = TokenIndex, TokenIndexEntry, "token_hash"

    def delete_tenant(self, tenant_slug: str) -> int:
        result = self._session.exec(delete(TokenIndex).where(TokenIndex.tenant_slug == tenant_slug))
        return result.rowcount or 0
