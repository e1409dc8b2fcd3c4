"""copy-store: a SQLite deployment with a row in every table lands in MongoDB record for record, verified."""

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from gateway_app.db import store_copy
from gateway_app.db.mongo.store import MongoStore
from gateway_app.db.records import (
    AlertChannelRecord,
    AlertDeliveryRecord,
    AlertEventRecord,
    AlertRuleRecord,
    ApiTokenRecord, AuditRecord, DirectoryEntry, FileRecord, GuardrailPolicyRecord, GuardrailVerdictRecord,
    MemoryEventRecord, MemoryJobRecord, MemoryRecord, MemoryStoreRecord, ModelRecord, PlatformAdminRecord,
    ProjectRecord, PromptRecord, PromptVersionRecord, ProviderRecord, RagModuleRecord, TenantRecord, TokenIndexEntry,
    StoredResponseRecord,
    TraceEvent, TraceSession, UsageRecord, UsageRollup, UserRecord, VectorFileBatchRecord, VectorFileRecord,
    VectorStoreRecord,
)
from gateway_app.db.sqlite.store import SqliteStore
from gateway_app.db.store_copy import CopyRefused, copy_sqlite_to_mongo

T0 = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def _fill(store: SqliteStore, slug: str) -> None:
    """One tenant with at least one row in every table (two usage rows, two trace events)."""
    with store.control() as uow:
        uow.tenants.add(TenantRecord(slug=slug, name=slug.title(), created_at=T0))
        uow.directory.add(DirectoryEntry(email=f"dev@{slug}.io", tenant_slug=slug, user_id=f"usr_{slug}"))
        uow.token_index.add(TokenIndexEntry(token_hash=f"hash-{slug}", tenant_slug=slug, token_id=f"tok_{slug}"))
        uow.commit()
    store.create_tenant_store(slug)
    with store.tenant(slug) as uow:
        uow.users.add(UserRecord(id=f"usr_{slug}", email=f"dev@{slug}.io", password_hash="pbkdf2$x", name="Dev",
                                  created_at=T0))
        project = uow.projects.add(ProjectRecord(name="web", created_at=T0))
        uow.api_tokens.add(ApiTokenRecord(id=f"tok_{slug}", name="svc", token_hash=f"hash-{slug}", prefix="gh-abc",
                                          project_id=project.id, created_at=T0))
        uow.audit.add(AuditRecord(actor="cli", action="token.create", target=f"tok_{slug}", at=T0))
        provider = uow.providers.add(ProviderRecord(name="fake", type="openai", base_url="https://up.example/v1",
                                                    api_key_enc="gAAAA-cipher", header_hints={"X.Odd$": "1"},
                                                    created_at=T0))
        uow.models.add(ModelRecord(name="gpt-test", provider_id=provider.id, upstream_model="gpt", created_at=T0))
        uow.usage.add_many([UsageRecord(request_id=f"r{i}", model="gpt-test", token_id=f"tok_{slug}",
                                        provider_id=provider.id, status=200, prompt_tokens=3, completion_tokens=i,
                                        cost_usd=0.25, at=T0 + timedelta(minutes=i)) for i in range(2)])
        uow.usage.merge_rollups([UsageRollup(hour=T0.replace(minute=0), model="gpt-test", token_id=f"tok_{slug}",
                                             project_id=project.id, requests=2, errors=0, prompt_tokens=6,
                                             completion_tokens=1, cost_usd=0.5, latency_ms_sum=30,
                                             latency_buckets=[0, 2, 0])])
        uow.files.add(FileRecord(id="file-1", provider_id="", filename="a.txt", purpose="assistants", bytes=5,
                                 created_at=T0))
        uow.traces.save_session(TraceSession(id="ses-1", name="run", user="u1", tags=["a"], metadata={"$k": 1},
                                             started_at=T0))
        uow.traces.add_events([TraceEvent(id=f"ev-{i}", session_id="ses-1", type="llm", name="call",
                                          input={"a.b": [i]}, output="ok", started_at=T0 + timedelta(seconds=i))
                               for i in range(2)])
        prompt = uow.prompts.add(PromptRecord(name="greet", created_at=T0))
        uow.prompts.add_version(PromptVersionRecord(prompt_id=prompt.id, version=1,
                                                    messages=[{"role": "user", "content": "Hi {{ name }}"}],
                                                    created_at=T0))
        uow.guardrails.add(GuardrailPolicyRecord(name="pii", created_at=T0))
        uow.guardrails.add_verdicts([GuardrailVerdictRecord(policy="pii", direction="input", action="block", at=T0)])
        store_rec = uow.vector_stores.add(VectorStoreRecord(id="vs_1", name="docs", embedding_model="embed-test",
                                                            metadata={"team": "x"}, created_at=T0,
                                                            last_active_at=T0))
        uow.vector_stores.add_batch(VectorFileBatchRecord(id="vsfb_1", store_id=store_rec.id, created_at=T0))
        uow.vector_stores.add_file(VectorFileRecord(store_id=store_rec.id, file_id="file-1", batch_id="vsfb_1",
                                                    attributes={"lang": "en"}, created_at=T0))
        uow.rag_modules.add(RagModuleRecord(name="faq", model="gpt-test", vector_store_ids=["vs_1"], created_at=T0))
        memory_store = uow.memory.add(MemoryStoreRecord(name="assistant", embedding_model="embed-test",
                                                        extraction_model="gpt-test", created_at=T0))
        memory = uow.memory.add_memory(MemoryRecord(store_id=memory_store.id, text="likes tea", hash="h1",
                                                    user_id="alice", metadata={"src": "chat"}, created_at=T0,
                                                    updated_at=T0))
        uow.memory.add_events([MemoryEventRecord(store_id=memory_store.id, memory_id=memory.id, event="ADD",
                                                 new_text="likes tea", user_id="alice", at=T0)])
        uow.memory.add_job(MemoryJobRecord(store_id=memory_store.id, status="completed", results=[{"event": "ADD"}],
                                           created_at=T0))
        channel = uow.alerts.add_channel(AlertChannelRecord(name="ops", type="email", recipients=["ops@x.io"],
                                                            overrides={"firing": {"subject": "{{ rule }}"}},
                                                            created_at=T0))
        rule = uow.alerts.add_rule(AlertRuleRecord(name="errors", metric="error_rate", critical=0.05,
                                                   filters={"model": "gpt-test"}, channel_ids=[channel.id],
                                                   created_at=T0))
        event = uow.alerts.add_event(AlertEventRecord(rule_id=rule.id, rule_name="errors", state="firing",
                                                      severity="critical", value=0.3, threshold=0.05, at=T0))
        uow.alerts.add_delivery(AlertDeliveryRecord(event_id=event.id, channel_id=channel.id, channel_type="email",
                                                    ok=True, at=T0))
        uow.responses.add(StoredResponseRecord(
            id=f"resp_{slug}", model="gpt-test", created_at=T0,
            body={"id": f"resp_{slug}", "text": {"format": {"type": "json_schema", "schema": {"$ref": "#/x"}}}},
            input_items=[{"id": "msg_1", "type": "message", "role": "user", "content": "hi"}],
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]))
        uow.commit()


@pytest.fixture
def deployment(tmp_path):
    store = SqliteStore(tmp_path / "data")
    store.migrate()
    with store.control() as uow:
        uow.admins.add(PlatformAdminRecord(email="root@example.com", password_hash="x", created_at=T0))
        uow.commit()
    for slug in ("acme", "globex"):
        _fill(store, slug)
    yield store
    store.close()


@pytest.fixture
def target(mongo_server):
    store = MongoStore(mongo_server.uri, prefix=f"c{secrets.token_hex(3)}_")
    yield store
    for name in store.client.list_database_names():
        if name.startswith(store.prefix):
            store.client.drop_database(name)
    store.close()


def _same(record):
    """A record as MongoDB keeps it: times to the millisecond, latency buckets up to the last one used."""
    values = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        values[f.name] = value
    if "latency_buckets" in values:  # MongoDB keeps only the buckets that counted something
        while values["latency_buckets"] and values["latency_buckets"][-1] == 0:
            values["latency_buckets"] = values["latency_buckets"][:-1]
    return values


def test_every_table_is_copied_and_reads_back_the_same(deployment, target):
    lines = []
    report = copy_sqlite_to_mongo(deployment, target, progress=lines.append)
    assert len(lines) == 3 and report.mismatches == []
    tenant_parts = report.counts[target.db_name("acme")]
    assert set(tenant_parts) == {p.collection for p in store_copy.TENANT_PARTS}
    empty = [name for name, (rows, _) in tenant_parts.items() if rows == 0]
    assert empty == [], "the fixture must put a row in every table, or the copy of that table is untested"
    assert tenant_parts["model_usage_logs"] == (2, 2) and tenant_parts["agent_tracing_events"] == (2, 2)

    # Read back through the MongoDB repositories: the same records as SQLite's.
    with deployment.tenant("acme") as src, target.tenant("acme") as dst:
        for read in (lambda u: u.users.get("usr_acme"), lambda u: u.api_tokens.get("tok_acme"),
                     lambda u: u.providers.get_by_name("fake"), lambda u: u.models.get_by_name("gpt-test"),
                     lambda u: u.usage.recent(), lambda u: u.usage.rollups(T0 - timedelta(hours=1), T0 + timedelta(hours=1)),
                     lambda u: u.files.get("file-1"), lambda u: u.traces.get_session("ses-1"),
                     lambda u: u.traces.events("ses-1"), lambda u: u.prompts.versions(u.prompts.get_by_name("greet").id),
                     lambda u: u.guardrails.recent_verdicts(), lambda u: u.vector_stores.get("vs_1"),
                     lambda u: u.vector_stores.get_file("vs_1", "file-1"), lambda u: u.vector_stores.get_batch("vsfb_1"),
                     lambda u: u.rag_modules.get_by_name("faq"), lambda u: u.memory.get_by_name("assistant"),
                     lambda u: u.memory.list_memories(u.memory.get_by_name("assistant").id, user_id="alice"),
                     lambda u: u.alerts.list_channels(), lambda u: u.alerts.list_rules(),
                     lambda u: u.alerts.list_events(), lambda u: u.alerts.list_deliveries(),
                     lambda u: u.responses.get("resp_acme")):
            before, after = read(src), read(dst)
            assert before, "nothing to compare"
            if isinstance(before, list):
                assert [_same(x) for x in after] == [_same(x) for x in before]
            else:
                assert _same(after) == _same(before)
    with target.control() as uow:
        assert uow.token_index.get("hash-globex").tenant_slug == "globex"
        assert uow.admins.get_by_email("root@example.com") is not None


def test_a_target_that_holds_a_deployment_is_refused_and_left_alone(deployment, target):
    copy_sqlite_to_mongo(deployment, target)
    with target.tenant("acme") as uow:
        uow.users.update("usr_acme", {"name": "Changed in MongoDB"})
        uow.commit()
    with pytest.raises(CopyRefused, match="already holds a deployment"):
        copy_sqlite_to_mongo(deployment, target)
    with target.tenant("acme") as uow:
        assert uow.users.get("usr_acme").name == "Changed in MongoDB"


def test_a_count_that_does_not_match_fails_the_copy(deployment, target, monkeypatch):
    parts = list(store_copy.TENANT_PARTS)
    index = next(i for i, p in enumerate(parts) if p.collection == "model_usage_logs")
    lossy = parts[index]
    parts[index] = dataclasses.replace(lossy, write=lambda uow, records: lossy.write(uow, records[1:]))
    monkeypatch.setattr(store_copy, "TENANT_PARTS", tuple(parts))
    with pytest.raises(CopyRefused, match=r"model_usage_logs: 2 rows, 1 documents"):
        copy_sqlite_to_mongo(deployment, target)
