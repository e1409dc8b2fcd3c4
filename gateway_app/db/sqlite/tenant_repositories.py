"""SQLite repositories of a tenant database."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import select

from gateway_app.db.records import ApiTokenRecord, AuditRecord, ProjectRecord, UserRecord
from gateway_app.db.sqlite.base_repository import SqlRepository
from gateway_app.db.sqlite.usage_sql import dbapi_cursor, touch_tokens
from gateway_app.db.tables.tenant import ApiToken, AuditLog, Project, User


class SqlUserRepository(SqlRepository[User, UserRecord]):
    table, record = User, UserRecord

    def get_by_email(self, email: str) -> UserRecord | None:
        row = self._session.exec(select(User).where(User.email == email)).first()
        return None if row is None else self._to_record(row)

    def list(self, offset: int = 0, limit: int = 50) -> list[UserRecord]:
        query = select(User).order_by(User.email).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]

    def count(self) -> int:
        return int(self._session.exec(select(func.count()).select_from(User)).one())


class SqlProjectRepository(SqlRepository[Project, ProjectRecord]):
    table, record = Project, ProjectRecord

    def get_by_name(self, name: str) -> ProjectRecord | None:
        row = self._session.exec(select(Project).where(Project.name == name)).first()
        return None if row is None else self._to_record(row)

    def list(self, offset: int = 0, limit: int = 50) -> list[ProjectRecord]:
        query = select(Project).order_by(Project.name).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]


class SqlApiTokenRepository(SqlRepository[ApiToken, ApiTokenRecord]):
    table, record = ApiToken, ApiTokenRecord

    def list(self, project_id: str | None = None, offset: int = 0, limit: int = 100) -> list[ApiTokenRecord]:
        query = select(ApiToken)
        if project_id is not None:
            query = query.where(ApiToken.project_id == project_id)
        query = query.order_by(ApiToken.created_at.desc(), ApiToken.id).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]

    def count_active_for_project(self, project_id: str) -> int:
        query = select(func.count()).select_from(ApiToken).where(
            ApiToken.project_id == project_id, ApiToken.revoked_at.is_(None))
        return int(self._session.exec(query).one())

    def touch_many(self, last_used: Sequence[tuple[str, object]]) -> None:
        touch_tokens(dbapi_cursor(self._session), last_used)


class SqlAuditRepository(SqlRepository[AuditLog, AuditRecord]):
    table, record = AuditLog, AuditRecord

    def list(self, offset: int = 0, limit: int = 50) -> list[AuditRecord]:
        query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id).offset(offset).limit(limit)
        return [self._to_record(row) for row in self._session.exec(query)]
