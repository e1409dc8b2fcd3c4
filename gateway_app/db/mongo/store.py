"""MongoDB DataStore: database `console_main` for the registry and `tenant_<slug>` per tenant."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from gateway_app.core.logging import get_logger
from gateway_app.db.errors import StoreBusy, TenantStoreMissing
from gateway_app.db.mongo import quirks, schema
from gateway_app.db.mongo.inference_repositories import rollup_operations, usage_operations
from gateway_app.db.mongo.tenant_repositories import touch_tokens
from gateway_app.db.mongo.unit_of_work import MongoControlUnitOfWork, MongoTenantUnitOfWork, is_transient
from gateway_app.db.records import UsageRecord, UsageRollup
from gateway_app.db.tenancy import validate_slug

log = get_logger("db.mongo")
CONTROL_DB = "console_main"
MAX_DB_NAME = 63  # MongoDB allows 64 bytes; one kept spare
KNOWN_SECONDS = 30.0  # a tenant database seen to exist is not looked up again for this long


def tenant_db_name(slug: str, prefix: str = "") -> str:
    """`<prefix>tenant_<slug>`; a slug too long for a database name keeps its start and gains a hash of the
    whole (the slug is validated first: it becomes a database name)."""
    name = f"{prefix}tenant_{validate_slug(slug)}"
    if len(name) <= MAX_DB_NAME:
        return name
    return f"{name[: MAX_DB_NAME - 9]}_{hashlib.sha256(slug.encode()).hexdigest()[:8]}"


class MongoStore:
    """Opens units of work on console_main and on per-tenant databases, over one pooled client."""

    name = "mongodb"

    def __init__(self, uri: str, *, prefix: str = "", server_timeout_ms: int = 5000, pool_size: int = 100) -> None:
        self.prefix = prefix
        self.control_db = f"{prefix}{CONTROL_DB}"
        options = dict(
            tz_aware=True,
            tzinfo=UTC,
            w="majority",
            appname="gatehouse",
            serverSelectionTimeoutMS=server_timeout_ms,
        )
        self._client = MongoClient(uri, maxPoolSize=pool_size, **options)
        self._connect = lambda: MongoClient(uri, maxPoolSize=2, **options)  # for the probe (quirks.py)
        self._known: dict[str, float] = {}  # tenant slug -> when its database was last seen to exist
        self._lock = threading.Lock()
        self._quirks: quirks.ServerQuirks | None = None
        self.appends = MongoAppends(self)

    def db_name(self, slug: str) -> str:
        """The database of a tenant."""
        return tenant_db_name(slug, self.prefix)

    @property
    def client(self) -> MongoClient:
        """The pooled client (the copy tool and tests read through it)."""
        return self._client

    @property
    def quirks(self) -> quirks.ServerQuirks:
        """What this deployment's transactions can do (probed once; see quirks.py)."""
        if self._quirks is None:
            self._quirks = quirks.probe(self._client, self.control_db, self._connect)
        return self._quirks

    @property
    def transactions(self) -> bool:
        """Whether the deployment runs multi-document transactions."""
        return self.quirks.transactions

    def control(self) -> MongoControlUnitOfWork:
        return MongoControlUnitOfWork(self._client, self._client[self.control_db], self.quirks)

    def tenant(self, slug: str) -> MongoTenantUnitOfWork:
        if not self.tenant_store_exists(slug):
            raise TenantStoreMissing(f"no database for tenant {slug!r}")
        return MongoTenantUnitOfWork(self._client, self._client[self.db_name(slug)], self.quirks, slug)

    def tenant_store_exists(self, slug: str) -> bool:
        name = self.db_name(slug)
        seen = self._known.get(slug)
        if seen is not None and time.monotonic() - seen < KNOWN_SECONDS:
            return True
        try:
            exists = schema.version(self._client[name]) > 0
        except PyMongoError as exc:
            raise StoreBusy(f"the database is unavailable ({exc}); retry shortly") from exc
        if exists:
            self._known[slug] = time.monotonic()
        else:
            self._known.pop(slug, None)
        return exists

    def create_tenant_store(self, slug: str) -> None:
        """Create a tenant's database: its indexes and schema version (idempotent)."""
        schema.upgrade(self._client[self.db_name(slug)], schema.TENANT_STEPS)
        self._known[slug] = time.monotonic()

    def drop_tenant_store(self, slug: str) -> None:
        """Drop a tenant's database."""
        self._client.drop_database(self.db_name(slug))
        self._known.pop(slug, None)

    def tenant_slugs(self) -> list[str]:
        """Slugs of every tenant in the registry whose database exists."""
        slugs = [d["_id"] for d in self._client[self.control_db]["tenants"].find({}, {"_id": 1})]
        return sorted(s for s in slugs if self.tenant_store_exists(s))

    def migrate(self) -> list[str]:
        """Upgrade console_main and every tenant database; returns what changed."""
        try:
            return self._migrate()
        except PyMongoError as exc:
            raise StoreBusy(f"MONGODB_URI: cannot reach MongoDB or migrate it ({exc})") from exc

    def _migrate(self) -> list[str]:
        changed = []
        with self._lock:
            if schema.upgrade(self._client[self.control_db], schema.CONTROL_STEPS):
                changed.append("control")
            for slug in self.tenant_slugs():
                if schema.upgrade(self._client[self.db_name(slug)], schema.TENANT_STEPS):
                    changed.append(f"tenant:{slug}")
        if changed:
            log.info("migrated", extra={"databases": ",".join(changed)})
        return changed

    def ping(self) -> None:
        try:
            self._client.admin.command("ping")
        except PyMongoError as exc:
            raise StoreBusy(f"MONGODB_URI: the database is unreachable ({exc})") from exc

    def close_idle(self) -> int:
        return 0  # the client's pool closes idle connections itself

    def close(self) -> None:
        self._client.close()


class MongoAppends:
    """The batch writers' per-request volume: a tenant's usage rows and roll-ups in one transaction."""

    def __init__(self, store: MongoStore) -> None:
        self._store = store

    def _db(self, tenant: str):
        if not self._store.tenant_store_exists(tenant):
            raise TenantStoreMissing(f"no database for tenant {tenant!r}")
        return self._store.client[self._store.db_name(tenant)]

    def _run(self, write) -> None:
        try:
            if self._store.transactions:
                with self._store.quirks.transaction_turn(), self._store.client.start_session() as session:
                    # Rows and roll-ups land together or not at all: a retried batch counts once.
                    session.with_transaction(lambda s: write(s))
            else:
                write(None)
        except PyMongoError as exc:
            if is_transient(exc):
                raise StoreBusy(f"the database is unavailable ({exc}); retry shortly") from exc
            raise

    def usage(self, tenant: str, records: Sequence[UsageRecord], rollups: Sequence[UsageRollup]) -> None:
        db = self._db(tenant)

        def write(session) -> None:
            if records:
                db["model_usage_logs"].bulk_write(usage_operations(records), ordered=False, session=session)
            if rollups:
                db["usage_hourly"].bulk_write(rollup_operations(rollups), ordered=True, session=session)

        self._run(write)

    def token_touches(self, tenant: str, last_used: Sequence[tuple[str, datetime]]) -> None:
        if not last_used:
            return
        db = self._db(tenant)
        self._run(lambda session: touch_tokens(db["api_tokens"], last_used, session))
