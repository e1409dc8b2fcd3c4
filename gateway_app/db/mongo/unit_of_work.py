"""MongoDB units of work: a client session in a transaction when the deployment supports them.

On a replica set or a sharded cluster (and the test wire server) every unit of work is one
transaction: leaving the block without commit() aborts it. A standalone mongod has no
transactions: each write then applies when made and rollback() cannot undo it (see
docs/decisions/2026-12-03-mongodb-backend.md; run MongoDB as a replica set, even of one node).
"""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from gateway_app.db.errors import StoreBusy
from gateway_app.db.mongo.alert_repositories import MongoAlertRepository
from gateway_app.db.mongo.response_repositories import MongoResponseRepository
from gateway_app.db.mongo.control_repositories import (
    MongoDirectoryRepository,
    MongoPlatformAdminRepository,
    MongoTenantRepository,
    MongoTokenIndexRepository,
)
from gateway_app.db.mongo.inference_repositories import (
    MongoFileRepository,
    MongoModelRepository,
    MongoProviderRepository,
    MongoUsageRepository,
)
from gateway_app.db.mongo.memory_repositories import MongoMemoryRepository
from gateway_app.db.mongo.quirks import ServerQuirks
from gateway_app.db.mongo.prompt_guardrail_repositories import (
    MongoGuardrailRepository,
    MongoPromptRepository,
    MongoRagModuleRepository,
)
from gateway_app.db.mongo.tenant_repositories import (
    MongoApiTokenRepository,
    MongoAuditRepository,
    MongoProjectRepository,
    MongoUserRepository,
)
from gateway_app.db.mongo.tracing_repositories import MongoTraceRepository
from gateway_app.db.mongo.vector_repositories import MongoVectorStoreRepository


def is_transient(exc: BaseException | None) -> bool:
    """An error worth retrying shortly: the server unreachable, a failover, a write conflict."""
    if isinstance(exc, ConnectionFailure):
        return True
    if isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError"):
        return True
    return isinstance(exc, OperationFailure) and exc.code in (112, 189, 91, 11600, 11602, 10107, 13435)


class MongoUnitOfWork:
    """A session used as a transaction (when supported): leaving the block without commit() aborts."""

    def __init__(self, client, db, server: ServerQuirks) -> None:
        self._client = client
        self._db = db
        self._server = server
        self._session = None
        self._turn = None

    def _bind(self, db, session) -> None:
        raise NotImplementedError

    def __enter__(self):
        if self._server.transactions:
            self._turn = self._server.transaction_turn()
            self._turn.__enter__()
            try:
                self._session = self._client.start_session()
                self._session.start_transaction()
            except PyMongoError as exc:
                self._end_turn()
                raise StoreBusy(f"the database is unavailable ({exc}); retry shortly") from exc
        self._bind(self._db, self._session)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                if session.in_transaction:
                    session.abort_transaction()  # no-op after commit; discards anything uncommitted
            except PyMongoError:
                pass  # the server drops an unfinished transaction by itself
            finally:
                session.end_session()
                self._end_turn()
        if is_transient(exc):
            # Callers see one storage-neutral error: a 503 on the API, a retry for batch writers.
            raise StoreBusy(f"the database is unavailable ({exc}); retry shortly") from exc

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.__exit__(None, None, None)

    def commit(self) -> None:
        """Make the changes of this unit of work durable (later changes start a new transaction)."""
        if self._session is not None:
            try:
                self._session.commit_transaction()
            except PyMongoError as exc:
                if is_transient(exc):
                    raise StoreBusy(f"the database could not commit ({exc}); retry shortly") from exc
                raise
            self._session.start_transaction()

    def rollback(self) -> None:
        """Discard the changes made so far (nothing to discard without transactions)."""
        if self._session is not None and self._session.in_transaction:
            self._session.abort_transaction()
            self._session.start_transaction()


class MongoControlUnitOfWork(MongoUnitOfWork):
    """Transaction on console_main."""

    def _bind(self, db, session) -> None:
        self.tenants = MongoTenantRepository(db, session)
        self.admins = MongoPlatformAdminRepository(db, session)
        self.directory = MongoDirectoryRepository(db, session)
        self.token_index = MongoTokenIndexRepository(db, session)


class MongoTenantUnitOfWork(MongoUnitOfWork):
    """Transaction on one tenant's database: its repositories can only see that tenant."""

    def __init__(self, client, db, server: ServerQuirks, tenant_slug: str) -> None:
        super().__init__(client, db, server)
        self.tenant_slug = tenant_slug

    def _bind(self, db, session) -> None:
        self.users = MongoUserRepository(db, session)
        self.projects = MongoProjectRepository(db, session)
        self.api_tokens = MongoApiTokenRepository(db, session)
        self.audit = MongoAuditRepository(db, session)
        self.providers = MongoProviderRepository(db, session)
        self.models = MongoModelRepository(db, session)
        self.usage = MongoUsageRepository(db, session)
        self.files = MongoFileRepository(db, session)
        self.traces = MongoTraceRepository(db, session)
        self.prompts = MongoPromptRepository(db, session)
        self.guardrails = MongoGuardrailRepository(db, session)
        self.vector_stores = MongoVectorStoreRepository(db, session)
        self.rag_modules = MongoRagModuleRepository(db, session)
        self.memory = MongoMemoryRepository(db, session)
        self.alerts = MongoAlertRepository(db, session)
        self.responses = MongoResponseRepository(db, session)
