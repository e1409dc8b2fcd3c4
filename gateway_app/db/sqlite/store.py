"""SQLite DataStore: console_main.sqlite plus one tenant_<slug>.sqlite per tenant."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway_app.core.logging import get_logger
from gateway_app.db.errors import TenantStoreMissing
from gateway_app.db.sqlite.engines import DEFAULT_BUSY_TIMEOUT_MS, EngineCache, make_engine
from gateway_app.db.sqlite.unit_of_work import SqlControlUnitOfWork, SqlTenantUnitOfWork
from gateway_app.db.tenancy import SLUG_PATTERN, validate_slug

log = get_logger("db.sqlite")


class SqliteStore:
    """Opens units of work on the control file and on per-tenant files under DATA_DIR."""

    name = "sqlite"

    def __init__(self, data_dir: Path, max_open_tenants: int = 64,
                 busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._control_engine = make_engine(self.data_dir / "console_main.sqlite", create=True,
                                           busy_timeout_ms=busy_timeout_ms)
        self._tenant_engines = EngineCache(max_open_tenants, busy_timeout_ms)

    def tenant_path(self, slug: str) -> Path:
        """File of a tenant's database (slug validated first: it becomes a file name)."""
        return self.data_dir / f"tenant_{validate_slug(slug)}.sqlite"

    def control(self) -> SqlControlUnitOfWork:
        return SqlControlUnitOfWork(self._control_engine)

    def tenant(self, slug: str) -> SqlTenantUnitOfWork:
        path = self.tenant_path(slug)
        if not path.exists():
            raise TenantStoreMissing(f"no database for tenant {slug!r}")
        return SqlTenantUnitOfWork(self._tenant_engines.get(path), slug)

    def tenant_store_exists(self, slug: str) -> bool:
        return self.tenant_path(slug).exists()

    def create_tenant_store(self, slug: str) -> None:
        """Create and migrate a tenant's database file."""
        from gateway_app.db.sqlite import migrations  # Alembic loads only when a schema changes

        path = self.tenant_path(slug)
        engine = make_engine(path, create=True)
        try:
            with migrations.migration_lock(self.data_dir):
                migrations.upgrade(engine, "tenant")
        finally:
            engine.dispose()

    def drop_tenant_store(self, slug: str) -> None:
        """Delete a tenant's database files."""
        path = self.tenant_path(slug)
        self._tenant_engines.discard(path)
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

    def close(self) -> None:
        self._tenant_engines.close()
        self._control_engine.dispose()
