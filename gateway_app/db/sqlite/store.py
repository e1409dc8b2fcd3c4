"""SQLite DataStore: console_main.sqlite plus one tenant_<slug>.sqlite per tenant."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sqlalchemy import text

from gateway_app.core.logging import get_logger
from gateway_app.db.errors import TenantStoreMissing
from gateway_app.db.sqlite.appends import SqliteAppends, tenant_file
from gateway_app.db.sqlite.engines import (DEFAULT_BUSY_TIMEOUT_MS, ENGINE_IDLE_SECONDS, ENGINE_MAX_OPEN, EngineCache,
                                          file_identity, make_engine)
from gateway_app.db.sqlite.file_budget import open_tenant_budget
from gateway_app.db.sqlite.unit_of_work import SqlControlUnitOfWork, SqlTenantUnitOfWork
from gateway_app.db.tenancy import SLUG_PATTERN

log = get_logger("db.sqlite")


class SqliteStore:
    """Opens units of work on the control file and on per-tenant files under DATA_DIR."""

    name = "sqlite"

    def __init__(self, data_dir: Path, max_open_tenants: int | None = None,
                 busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, idle_seconds: float = 600.0) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._control_engine = make_engine(self.data_dir / "console_main.sqlite", create=True,
                                           busy_timeout_ms=busy_timeout_ms)
        # Active tenants' databases stay open, within what the descriptor limit allows. The writers'
        # plain connection is what an active tenant uses in steady state (the request path reads
        # caches); the ORM engines serve configuration loads and the console, so they are fewer and
        # close sooner.
        budget = open_tenant_budget(max_open_tenants)
        self._tenant_engines = EngineCache(min(budget, ENGINE_MAX_OPEN), busy_timeout_ms,
                                           min(idle_seconds, ENGINE_IDLE_SECONDS))
        self.appends = SqliteAppends(self.tenant_path, max_open=budget, busy_timeout_ms=busy_timeout_ms,
                                     idle_seconds=idle_seconds)
        self._tenant_head: str | None = None

    def tenant_path(self, slug: str) -> Path:
        """File of a tenant's database (slug validated first: it becomes a file name)."""
        return tenant_file(self.data_dir, slug)

    def control(self) -> SqlControlUnitOfWork:
        return SqlControlUnitOfWork(self._control_engine)

    def tenant(self, slug: str) -> SqlTenantUnitOfWork:
        path = self.tenant_path(slug)
        identity = file_identity(path)  # one stat: that the file exists, and that it is the one opened
        if identity is None:
            raise TenantStoreMissing(f"no database for tenant {slug!r}")
        return SqlTenantUnitOfWork(self._tenant_engines.get(path, identity), slug)

    def tenant_store_exists(self, slug: str) -> bool:
        return self.tenant_path(slug).exists()

    def create_tenant_store(self, slug: str) -> None:
        """Create a tenant's database file at the schema head.

        Migrating a new file runs every tenant migration (~0.1 s); a copy of a file migrated once
        (kept per head revision under DATA_DIR/.templates) takes milliseconds.
        """
        from gateway_app.db.sqlite import migrations  # Alembic loads only when a schema changes

        path = self.tenant_path(slug)
        with migrations.migration_lock(self.data_dir):
            template = self._tenant_template(migrations)
            staging = path.with_name(f".{path.name}.new")
            shutil.copyfile(template, staging)
            os.replace(staging, path)  # the tenant's file appears whole or not at all

    def _tenant_template(self, migrations) -> Path:
        """An empty tenant database at the head revision (made once per head; caller holds the lock)."""
        if self._tenant_head is None:  # reading the revision scripts costs ~10 ms; they change only with the code
            self._tenant_head = migrations.head_revision("tenant")
        head = self._tenant_head
        template = self.data_dir / ".templates" / f"tenant-{head}.sqlite"
        if template.exists():
            return template
        template.parent.mkdir(parents=True, exist_ok=True)
        staging = template.with_name(f".{template.name}.new")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{staging}{suffix}").unlink(missing_ok=True)
        engine = make_engine(staging, create=True)
        try:
            migrations.upgrade(engine, "tenant")
            with engine.connect() as conn:  # fold the WAL into the file: the copy must be self-contained
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{staging}{suffix}").unlink(missing_ok=True)
        os.replace(staging, template)
        return template

    def drop_tenant_store(self, slug: str) -> None:
        """Delete a tenant's database files."""
        path = self.tenant_path(slug)
        self._tenant_engines.discard(path)
        self.appends.discard(path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def tenant_slugs_on_disk(self) -> list[str]:
        """Slugs of every tenant database file present."""
        slugs = (p.name[len("tenant_"):-len(".sqlite")] for p in self.data_dir.glob("tenant_*.sqlite"))
        return sorted(s for s in slugs if SLUG_PATTERN.fullmatch(s))

    def migrate(self) -> list[str]:
        """Upgrade the control database and every tenant database; returns what changed."""
        from gateway_app.db.sqlite import migrations

        changed = []
        with migrations.migration_lock(self.data_dir):
            if migrations.upgrade(self._control_engine, "control"):
                changed.append("control")
            for slug in self.tenant_slugs_on_disk():
                engine = make_engine(self.tenant_path(slug), create=False)
                try:
                    if migrations.upgrade(engine, "tenant"):
                        changed.append(f"tenant:{slug}")
                finally:
                    engine.dispose()
        if changed:
            log.info("migrated", extra={"databases": ",".join(changed)})
        return changed

    def ping(self) -> None:
        with self._control_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def open_stats(self) -> dict[str, int]:
        """Tenant databases open now, the most kept open, and how many were opened so far."""
        return {"open": len(self._tenant_engines), "max": self._tenant_engines.max_size,
                "opened": self._tenant_engines.opened, "writer_connections": len(self.appends),
                "writer_opened": self.appends.opened}

    def close_idle(self) -> int:
        """Close tenant databases unused for their idle time; returns how many engines closed."""
        return self._tenant_engines.sweep()

    def close(self) -> None:
        self.appends.close()
        self._tenant_engines.close()
        self._control_engine.dispose()
