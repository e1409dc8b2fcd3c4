"""Copy a SQLite deployment (the control file and every tenant file) into MongoDB, then verify the counts.

Rows are read with the SQLite repositories' own row-to-record conversions and written through the
MongoDB repositories' protocol methods, so each document has exactly the shape the MongoDB backend
writes itself. The target must be empty: the copy is for moving a deployment, not for merging two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from gateway_app.db import records as r
from gateway_app.db.errors import StoreError
from gateway_app.db.mongo.store import MongoStore
from gateway_app.db.sqlite.base_repository import record_of
from gateway_app.db.sqlite.engines import make_engine
from gateway_app.db.sqlite.memory_repositories import memory_record
from gateway_app.db.sqlite.store import SqliteStore
from gateway_app.db.sqlite.tracing_repositories import event_record, session_record
from gateway_app.db.sqlite.vector_repositories import vector_store_record
from gateway_app.db.tables import alerts as at
from gateway_app.db.tables import responses as rt
from gateway_app.db.tables import control as ct
from gateway_app.db.tables import memory as mt
from gateway_app.db.tables import tenant as tt

CHUNK = 500  # records per MongoDB transaction


class CopyRefused(StoreError):
    """The copy cannot start (the target is not empty) or did not verify."""


def _as(record_type: type) -> Callable[[Any], Any]:
    return lambda row: record_of(record_type, row)


def _each(repository: str, method: str = "add") -> Callable[[Any, list], None]:
    def write(uow, records: list) -> None:
        add = getattr(getattr(uow, repository), method)
        for record in records:
            add(record)

    return write


def _batch(repository: str, method: str) -> Callable[[Any, list], None]:
    return lambda uow, records: getattr(getattr(uow, repository), method)(records)


def _sessions(uow, records: list) -> None:
    for record in records:
        uow.traces.save_session(record, create_only=True)


@dataclass(frozen=True)
class Part:
    """One SQLite table, the collection its rows become, and how."""

    table: type
    collection: str
    to_record: Callable[[Any], Any]
    write: Callable[[Any, list], None]


CONTROL_PARTS = (
    Part(ct.Tenant, "tenants", _as(r.TenantRecord), _each("tenants")),
    Part(ct.PlatformAdmin, "platform_admins", _as(r.PlatformAdminRecord), _each("admins")),
    Part(ct.UserDirectory, "user_directory", _as(r.DirectoryEntry), _each("directory")),
    Part(ct.TokenIndex, "token_index", _as(r.TokenIndexEntry), _each("token_index")),
)

TENANT_PARTS = (
    Part(tt.User, "users", _as(r.UserRecord), _each("users")),
    Part(tt.Project, "projects", _as(r.ProjectRecord), _each("projects")),
    Part(tt.ApiToken, "api_tokens", _as(r.ApiTokenRecord), _each("api_tokens")),
    Part(tt.AuditLog, "audit_logs", _as(r.AuditRecord), _each("audit")),
    Part(tt.ProviderConfig, "provider_configs", _as(r.ProviderRecord), _each("providers")),
    Part(tt.Model, "models", _as(r.ModelRecord), _each("models")),
    Part(tt.ModelUsageLog, "model_usage_logs", _as(r.UsageRecord), _batch("usage", "add_many")),
    Part(tt.UsageHourly, "usage_hourly", _as(r.UsageRollup), _batch("usage", "merge_rollups")),
    Part(tt.StoredFile, "files", _as(r.FileRecord), _each("files")),
    Part(tt.TracingSession, "agent_tracing_sessions", session_record, _sessions),
    Part(tt.TracingEvent, "agent_tracing_events", event_record, _batch("traces", "add_events")),
    Part(tt.Prompt, "prompts", _as(r.PromptRecord), _each("prompts")),
    Part(tt.PromptVersion, "prompt_versions", _as(r.PromptVersionRecord), _each("prompts", "add_version")),
    Part(tt.GuardrailPolicy, "guardrails", _as(r.GuardrailPolicyRecord), _each("guardrails")),
    Part(tt.GuardrailVerdict, "guardrail_verdicts", _as(r.GuardrailVerdictRecord),
         _batch("guardrails", "add_verdicts")),
    Part(tt.VectorIndex, "vector_indexes", vector_store_record, _each("vector_stores")),
    Part(tt.VectorStoreFile, "vector_store_files", _as(r.VectorFileRecord), _each("vector_stores", "add_file")),
    Part(tt.VectorFileBatch, "vector_file_batches", _as(r.VectorFileBatchRecord),
         _each("vector_stores", "add_batch")),
    Part(tt.RagModule, "rag_modules", _as(r.RagModuleRecord), _each("rag_modules")),
    Part(mt.MemoryStore, "memory_stores", _as(r.MemoryStoreRecord), _each("memory")),
    Part(mt.Memory, "memories", memory_record, _each("memory", "add_memory")),
    Part(mt.MemoryEvent, "memory_events", _as(r.MemoryEventRecord), _batch("memory", "add_events")),
    Part(mt.MemoryJob, "memory_jobs", _as(r.MemoryJobRecord), _each("memory", "add_job")),
    Part(at.AlertChannel, "alert_channels", _as(r.AlertChannelRecord), _each("alerts", "add_channel")),
    Part(at.AlertRule, "alert_rules", _as(r.AlertRuleRecord), _each("alerts", "add_rule")),
    Part(at.AlertEvent, "alert_events", _as(r.AlertEventRecord), _each("alerts", "add_event")),
    Part(at.AlertDelivery, "alert_deliveries", _as(r.AlertDeliveryRecord), _each("alerts", "add_delivery")),
    Part(rt.StoredResponse, "responses", _as(r.StoredResponseRecord), _each("responses")),
)


@dataclass
class CopyReport:
    """Rows read and documents found afterwards, per database and collection."""

    counts: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[str]:
        return [f"{db}.{name}: {src} rows, {dst} documents"
                for db, parts in self.counts.items() for name, (src, dst) in parts.items() if src != dst]

    def lines(self) -> list[str]:
        out = []
        for db, parts in self.counts.items():
            moved = ", ".join(f"{name} {src}" for name, (src, _) in parts.items() if src)
            out.append(f"{db}: {moved or 'empty'}")
        return out


def _rows(session: Session, table: type) -> Iterator[list]:
    """A table's rows in chunks, in primary-key order."""
    keys = list(table.__table__.primary_key.columns)  # type: ignore[attr-defined]
    chunk: list = []
    for row in session.exec(select(table).order_by(*keys).execution_options(yield_per=CHUNK)):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _copy_parts(source_file: Path, parts: tuple[Part, ...], open_target: Callable[[], Any], target_db) -> dict:
    engine = make_engine(source_file, create=False)
    counts = {}
    try:
        with Session(engine) as session:
            for part in parts:
                for rows in _rows(session, part.table):
                    with open_target() as uow:
                        part.write(uow, [part.to_record(row) for row in rows])
                        uow.commit()
                source = int(session.exec(select(func.count()).select_from(part.table)).one())
                counts[part.collection] = (source, target_db[part.collection].count_documents({}))
    finally:
        engine.dispose()
    return counts


def _refuse_unless_empty(target: MongoStore, slugs: list[str]) -> None:
    control = target.client[target.control_db]
    held = {name: control[name].count_documents({}) for name in ("tenants", "platform_admins")}
    if any(held.values()):
        raise CopyRefused(f"the target MongoDB already holds a deployment ({held['tenants']} tenants, "
                          f"{held['platform_admins']} platform admins in {target.control_db}); "
                          "copy-store writes only into empty databases (drop them or pick MONGODB_DB_PREFIX)")
    taken = [s for s in slugs if target.tenant_store_exists(s)]
    if taken:
        raise CopyRefused(f"the target already has databases for tenants {', '.join(taken)}")


def copy_sqlite_to_mongo(source: SqliteStore, target: MongoStore,
                         progress: Callable[[str], None] = lambda line: None) -> CopyReport:
    """Copy every row of a SQLite deployment into an empty MongoDB one; raise CopyRefused on a count mismatch."""
    with source.control() as uow:
        slugs = [t.slug for t in uow.tenants.list(limit=1_000_000)]
    target.migrate()
    _refuse_unless_empty(target, slugs)
    report = CopyReport()
    control_db = target.client[target.control_db]
    report.counts[target.control_db] = _copy_parts(source.data_dir / "console_main.sqlite", CONTROL_PARTS,
                                                   target.control, control_db)
    progress(report.lines()[-1])
    for slug in slugs:
        if not source.tenant_store_exists(slug):
            continue  # a tenant whose file is missing has nothing to copy; the registry entry came over
        target.create_tenant_store(slug)
        name = target.db_name(slug)
        report.counts[name] = _copy_parts(source.tenant_path(slug), TENANT_PARTS, lambda s=slug: target.tenant(s),
                                          target.client[name])
        progress(report.lines()[-1])
    if report.mismatches:
        raise CopyRefused("the copy did not verify: " + "; ".join(report.mismatches))
    return report
