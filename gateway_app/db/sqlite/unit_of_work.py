"""SQLite units of work: one session, repositories bound to it, commit only when asked."""

from __future__ import annotations

import sqlite3

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from gateway_app.db.errors import StoreBusy

from gateway_app.db.sqlite.control_repositories import (
    SqlDirectoryRepository,
    SqlPlatformAdminRepository,
    SqlTenantRepository,
    SqlTokenIndexRepository,
)
from gateway_app.db.sqlite.inference_repositories import (
    SqlFileRepository,
    SqlModelRepository,
    SqlProviderRepository,
    SqlUsageRepository,
)
from gateway_app.db.sqlite.prompt_guardrail_repositories import SqlGuardrailRepository, SqlPromptRepository
from gateway_app.db.sqlite.tenant_repositories import (
    SqlApiTokenRepository,
    SqlAuditRepository,
    SqlProjectRepository,
    SqlUserRepository,
)
from gateway_app.db.sqlite.tracing_repositories import SqlTraceRepository
from gateway_app.db.sqlite.alert_repositories import SqlAlertRepository
from gateway_app.db.sqlite.response_repositories import SqlResponseRepository
from gateway_app.db.sqlite.memory_repositories import SqlMemoryRepository
from gateway_app.db.sqlite.rag_repositories import SqlRagModuleRepository
from gateway_app.db.sqlite.vector_repositories import SqlVectorStoreRepository


def _is_busy(exc: BaseException | None) -> bool:
    # SQLAlchemy wraps driver errors; repositories that use the DB-API cursor directly get them raw.
    if not isinstance(exc, OperationalError | sqlite3.OperationalError):
        return False
    text = str(getattr(exc, "orig", exc)).lower()
    return "locked" in text or "busy" in text


class SqlUnitOfWork:
    """A session used as a transaction: leaving the block without commit() rolls back."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None

    def _bind(self, session: Session) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._session = Session(self._engine, expire_on_commit=False)
        self._bind(self._session)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._session is not None
        try:
            self._session.rollback()  # no-op after commit; discards anything uncommitted
        finally:
            self._session.close()
            self._session = None
        if _is_busy(exc):
            # Callers see one storage-neutral error: a 503 on the API, a retry for batch writers.
            raise StoreBusy(f"the database is busy ({getattr(exc, 'orig', exc)}); retry shortly") from exc

    def commit(self) -> None:
        """Make the changes of this unit of work durable."""
        assert self._session is not None, "unit of work used outside its with-block"
        self._session.commit()

    def rollback(self) -> None:
        """Discard the changes made so far."""
        assert self._session is not None
        self._session.rollback()


class SqlControlUnitOfWork(SqlUnitOfWork):
    """Transaction on console_main."""

    def _bind(self, session: Session) -> None:
        self.tenants = SqlTenantRepository(session)
        self.admins = SqlPlatformAdminRepository(session)
        self.directory = SqlDirectoryRepository(session)
        self.token_index = SqlTokenIndexRepository(session)


class SqlTenantUnitOfWork(SqlUnitOfWork):
    """Transaction on one tenant's database: its repositories can only see that tenant."""

    def __init__(self, engine: Engine, tenant_slug: str) -> None:
        super().__init__(engine)
        self.tenant_slug = tenant_slug

    def _bind(self, session: Session) -> None:
        self.users = SqlUserRepository(session)
        self.projects = SqlProjectRepository(session)
        self.api_tokens = SqlApiTokenRepository(session)
        self.audit = SqlAuditRepository(session)
        self.providers = SqlProviderRepository(session)
        self.models = SqlModelRepository(session)
        self.usage = SqlUsageRepository(session)
        self.files = SqlFileRepository(session)
        self.traces = SqlTraceRepository(session)
        self.prompts = SqlPromptRepository(session)
        self.guardrails = SqlGuardrailRepository(session)
        self.vector_stores = SqlVectorStoreRepository(session)
        self.rag_modules = SqlRagModuleRepository(session)
        self.memory = SqlMemoryRepository(session)
        self.alerts = SqlAlertRepository(session)
        self.responses = SqlResponseRepository(session)
