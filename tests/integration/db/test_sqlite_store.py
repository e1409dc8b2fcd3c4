"""SQLite specifics: one file per tenant, WAL, migrations matching the models."""

import resource
import sqlite3

import pytest

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway_app.db.records import ProjectRecord, TenantRecord
from gateway_app.db.sqlite import migrations
from gateway_app.db.sqlite.engines import ENGINE_MAX_OPEN, EngineCache, file_identity, make_engine
from gateway_app.db.sqlite.file_budget import FDS_PER_TENANT, open_tenant_budget
from gateway_app.db.sqlite.store import SqliteStore
from gateway_app.db.tables.base import control_registry, tenant_registry


def test_files_per_tenant_in_wal_mode(tmp_path):
    store = SqliteStore(tmp_path)
    store.migrate()
    with store.control() as uow:
        uow.tenants.add(TenantRecord(slug="acme", name="Acme"))
        uow.commit()
    store.create_tenant_store("acme")
    with store.tenant("acme") as uow:
        uow.users.list()
    assert (tmp_path / "console_main.sqlite").exists()
    assert (tmp_path / "tenant_acme.sqlite").exists()
    mode = sqlite3.connect(tmp_path / "tenant_acme.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_migrate_is_idempotent_and_covers_every_tenant(tmp_path):
    store = SqliteStore(tmp_path)
    assert store.migrate() == ["control"]
    store.create_tenant_store("acme")
    assert store.migrate() == []
    engine = make_engine(tmp_path / "tenant_acme.sqlite", create=False)
    assert migrations.current_revision(engine) == migrations.head_revision("tenant")
    engine.dispose()
    store.close()


def _diff(path, metadata):
    engine = make_engine(path, create=False)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    return diff


def test_migrations_produce_exactly_the_models(tmp_path):
    store = SqliteStore(tmp_path)
    store.migrate()
    store.create_tenant_store("acme")
    assert _diff(tmp_path / "console_main.sqlite", control_registry.metadata) == []
    assert _diff(tmp_path / "tenant_acme.sqlite", tenant_registry.metadata) == []
    store.close()


def test_module_and_store_usage_indexes_leave_out_other_rows_and_serve_their_queries(tmp_path):
    """A usage commit skips the RAG-module and memory-store indexes for ordinary calls, and listing a
    module's or a store's calls still reads its index rather than every row."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import event

    from gateway_app.db.records import UsageRecord

    store = SqliteStore(tmp_path)
    store.migrate()
    store.create_tenant_store("acme")
    path = tmp_path / "tenant_acme.sqlite"
    since = datetime.now(UTC) - timedelta(days=1)
    rows = [UsageRecord(request_id=f"r{i}", model="m") for i in range(20)]
    rows += [UsageRecord(request_id="mem_1", model="m", memory_store="notes"),
             UsageRecord(request_id="rag_1", model="m", rag_module="faq")]
    store.appends.usage("acme", rows, [])
    statements = []
    engine = store._tenant_engines.get(path, file_identity(path))  # noqa: SLF001 - the engine the repositories use
    listen = lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    with store.tenant("acme") as uow:
        assert [r.request_id for r in uow.usage.recent(rag_module="faq")] == ["rag_1"]
        assert uow.usage.count(memory_store="notes") == 1
        assert sum(uow.usage.daily_counts(since, memory_store="notes", request_prefix="mem_").values()) == 1
    event.remove(engine, "before_cursor_execute", listen)
    raw = sqlite3.connect(path)
    plans = [" ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)) for sql, params in statements
             if "model_usage_logs" in sql]
    assert len(plans) == 3
    assert "ix_usage_rag_module_at" in plans[0], plans
    assert all("ix_usage_memory_store_at" in plan for plan in plans[1:]), plans
    raw.execute("ANALYZE")  # sqlite_stat1: the first figure of each index is how many entries it holds
    entries = dict(raw.execute("SELECT idx, CAST(stat AS INTEGER) FROM sqlite_stat1 WHERE tbl = 'model_usage_logs'"))
    assert entries["ix_usage_rag_module_at"] == 1 and entries["ix_usage_memory_store_at"] == 1
    assert entries["ix_usage_model_at"] == 22
    assert "ix_model_usage_logs_request_id" not in entries  # read by no query, written by every commit
    raw.close()
    store.close()


def test_engine_cache_is_bounded(tmp_path):
    store = SqliteStore(tmp_path, max_open_tenants=2)
    store.migrate()
    for slug in ("t1", "t2", "t3"):
        store.create_tenant_store(slug)
        with store.tenant(slug) as uow:
            uow.users.count()
    assert len(store._tenant_engines) == 2
    store.close()


def test_new_tenants_are_copies_of_a_migrated_template_and_independent(tmp_path):
    store = SqliteStore(tmp_path)
    store.migrate()
    for slug in ("acme", "globex"):
        store.create_tenant_store(slug)
    templates = list((tmp_path / ".templates").glob("tenant-*.sqlite"))
    assert [t.name for t in templates] == [f"tenant-{migrations.head_revision('tenant')}.sqlite"]
    for slug in ("acme", "globex"):
        engine = make_engine(tmp_path / f"tenant_{slug}.sqlite", create=False)
        assert migrations.current_revision(engine) == migrations.head_revision("tenant")
        engine.dispose()
    with store.tenant("acme") as uow:
        uow.projects.add(ProjectRecord(name="only-in-acme"))
        uow.commit()
    with store.tenant("globex") as uow:
        assert uow.projects.list() == []
    assert not _diff(tmp_path / "tenant_globex.sqlite", tenant_registry.metadata)
    assert sorted(store.tenant_slugs_on_disk()) == ["acme", "globex"]  # staging and template files are not tenants
    store.close()


def test_open_tenant_databases_follow_activity_and_fit_the_descriptor_limit(tmp_path):
    now = [0.0]
    store = SqliteStore(tmp_path)
    store.migrate()
    for slug in ("busy", "idle"):
        store.create_tenant_store(slug)
    cache = EngineCache(max_size=100, idle_seconds=100.0, clock=lambda: now[0])
    for slug in ("busy", "idle"):
        cache.get(tmp_path / f"tenant_{slug}.sqlite", file_identity(tmp_path / f"tenant_{slug}.sqlite"))
    for step in range(1, 5):
        now[0] = step * 40.0
        cache.get(tmp_path / "tenant_busy.sqlite", file_identity(tmp_path / "tenant_busy.sqlite"))
    assert len(cache) == 1 and cache.opened == 2  # the idle tenant's database was closed, the busy one kept
    now[0] += 50.0
    assert cache.sweep() == 0  # still within its idle time
    now[0] += 100.0
    assert cache.sweep() == 1 and len(cache) == 0  # closed without anyone opening a database
    cache.close()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    budget = open_tenant_budget()
    assert 8 <= budget <= 4096 and budget * FDS_PER_TENANT <= soft
    assert store.open_stats()["max"] == min(budget, ENGINE_MAX_OPEN)
    store.close()


def test_writer_connections_close_when_idle_and_follow_a_tenant_recreated_elsewhere(tmp_path):
    from datetime import UTC, datetime

    from gateway_app.db.errors import TenantStoreMissing
    from gateway_app.db.records import UsageRecord
    from gateway_app.db.sqlite.appends import SqliteAppends
    from gateway_app.services.append_writers import rollups_of

    now = [0.0]
    store = SqliteStore(tmp_path)
    store.migrate()
    other_process = SqliteStore(tmp_path)  # a second worker on the same files
    for slug in ("busy", "idle"):
        store.create_tenant_store(slug)
    appends = SqliteAppends(store.tenant_path, max_open=100, busy_timeout_ms=1000, idle_seconds=100.0,
                            clock=lambda: now[0])

    def write(slug, request_id):
        record = UsageRecord(request_id=request_id, model="m", at=datetime(2026, 12, 1, tzinfo=UTC))
        appends.usage(slug, [record], rollups_of([record]))

    write("busy", "a")
    write("idle", "b")
    for step in range(1, 5):
        now[0] = step * 40.0
        write("busy", f"a{step}")
    assert len(appends) == 1 and appends.opened == 2  # the idle tenant's connection was closed

    other_process.drop_tenant_store("busy")  # the file this process holds open is unlinked
    with pytest.raises(TenantStoreMissing):
        write("busy", "lost")
    other_process.create_tenant_store("busy")  # same name, a new file
    write("busy", "fresh")
    with store.tenant("busy") as uow:
        assert [r.request_id for r in uow.usage.recent()] == ["fresh"]  # written to the new file, not the old one
    appends.close()
    other_process.close()
    store.close()


def test_a_tenant_deleted_and_created_again_by_another_worker_is_read_from_its_new_file(tmp_path):
    store = SqliteStore(tmp_path)
    store.migrate()
    other_worker = SqliteStore(tmp_path)  # the same files, another process's engines
    store.create_tenant_store("acme")
    with other_worker.tenant("acme") as uow:  # its engine is open on the first file
        uow.projects.add(ProjectRecord(name="of-the-deleted-tenant"))
        uow.commit()
    store.drop_tenant_store("acme")
    store.create_tenant_store("acme")  # same slug, a new file
    with store.tenant("acme") as uow:
        uow.projects.add(ProjectRecord(name="of-the-new-tenant"))
        uow.commit()
    with other_worker.tenant("acme") as uow:
        assert [p.name for p in uow.projects.list()] == ["of-the-new-tenant"]
        uow.projects.add(ProjectRecord(name="written-by-the-other-worker"))
        uow.commit()
    with store.tenant("acme") as uow:  # what the other worker wrote is in the live file, not lost
        assert sorted(p.name for p in uow.projects.list()) == ["of-the-new-tenant", "written-by-the-other-worker"]
    other_worker.close()
    store.close()
