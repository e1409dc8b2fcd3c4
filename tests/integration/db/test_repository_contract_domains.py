"""Repository contract, the domain repositories: usage queries, providers and models, files, traces, prompts,
guardrails, RAG modules, vector stores and memory, run against each backend."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway_app.db.errors import DuplicateKey
from gateway_app.db.records import (
    AlertChannelRecord,
    AlertDeliveryRecord,
    AlertEventRecord,
    AlertRuleRecord,
    FileRecord,
    GuardrailPolicyRecord,
    GuardrailVerdictRecord,
    MemoryEventRecord,
    MemoryJobRecord,
    MemoryRecord,
    MemoryStoreRecord,
    ModelRecord,
    PromptRecord,
    PromptVersionRecord,
    ProviderRecord,
    RagModuleRecord,
    StoredResponseRecord,
    TenantRecord,
    TraceEvent,
    TraceSession,
    UsageRecord,
    VectorFileBatchRecord,
    VectorFileRecord,
    VectorStoreRecord,
)

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.fixture
def acme(store):
    with store.control() as uow:
        uow.tenants.add(TenantRecord(slug="acme", name="Acme"))
        uow.commit()
    store.create_tenant_store("acme")
    return store


def test_providers_models_and_files(acme):
    with acme.tenant("acme") as uow:
        provider = uow.providers.add(ProviderRecord(name="openai", type="openai", base_url="https://api.openai.com/v1", header_hints={"X.Odd$": "ab…"}))
        uow.models.add(ModelRecord(name="b-model", provider_id=provider.id, upstream_model="b"))
        uow.models.add(ModelRecord(name="a-model", provider_id=provider.id, upstream_model="a"))
        uow.files.add(FileRecord(id="file-1", provider_id=provider.id, filename="a.txt", purpose="assistants",
                                 created_at=T0))
        uow.files.add(FileRecord(id="file-2", provider_id="", filename="b.txt", purpose="batch",
                                 created_at=T0 + timedelta(minutes=1)))
        uow.commit()
    with acme.tenant("acme") as uow:
        assert uow.providers.get_by_name("openai").header_hints == {"X.Odd$": "ab…"}
        assert [m.name for m in uow.models.list()] == ["a-model", "b-model"]
        assert [m.name for m in uow.models.list(provider_id="nope")] == []
        with pytest.raises(DuplicateKey) as info:
            uow.models.add(ModelRecord(name="a-model", provider_id=provider.id, upstream_model="x"))
        assert info.value.field == "name"
        assert [f.id for f in uow.files.list()] == ["file-2", "file-1"]
        assert [f.id for f in uow.files.list(purpose="assistants")] == ["file-1"]
        assert uow.files.delete("file-1") and uow.files.get("file-1") is None


def test_usage_queries_filter_count_and_aggregate(acme):
    rows = [UsageRecord(request_id=f"r{i}", model="m1" if i % 2 else "m2", token_id="tok_a", provider_id="p1",
                        status=200 if i < 4 else 502, at=T0 + timedelta(minutes=i)) for i in range(6)]
    rows.append(UsageRecord(request_id="msq_1", model="e", memory_store="assistant", provider_id="p1", status=400,
                            error_type="guardrail_violation", at=T0 + timedelta(days=1)))
    with acme.tenant("acme") as uow:
        uow.usage.add_many(rows)
        uow.commit()
    with acme.tenant("acme") as uow:
        assert [r.request_id for r in uow.usage.recent(limit=3)] == ["msq_1", "r5", "r4"]
        assert uow.usage.count(model="m1") == 3 and uow.usage.count(status="error") == 2
        assert uow.usage.count(status="ok") == 4 and uow.usage.count(status="blocked") == 1
        assert uow.usage.count(since=T0 + timedelta(minutes=3)) == 4
        assert [r.request_id for r in uow.usage.recent(memory_store="assistant")] == ["msq_1"]
        assert uow.usage.daily_counts(T0, memory_store="assistant", request_prefix="msq") == {"2026-12-02": 1}
        assert uow.usage.provider_stats(T0) == {"p1": (7, 2)}  # the guardrail block is no provider error


def test_traces_sessions_events_and_totals(acme):
    with acme.tenant("acme") as uow:
        uow.traces.save_session(TraceSession(id="s1", name="Checkout", user="u1", tags=["prod"], started_at=T0))
        uow.traces.save_session(TraceSession(id="s2", name="other", started_at=T0 + timedelta(hours=1)))
        uow.traces.add_events([
            TraceEvent(id="e1", session_id="s1", input={"$weird.key": [1, 2]}, prompt_tokens=3, started_at=T0),
            TraceEvent(id="e2", session_id="s1", status="error", cost_usd=0.5, started_at=T0 + timedelta(seconds=1),
                       ended_at=T0 + timedelta(seconds=3))])
        uow.traces.add_events([TraceEvent(id="e2", session_id="s1", name="resent", status="error",
                                          started_at=T0 + timedelta(seconds=1), ended_at=T0 + timedelta(seconds=3))])
        uow.traces.save_session(TraceSession(id="s1", status="completed", metadata={"k": 1}, ended_at=T0))
        uow.commit()
    with acme.tenant("acme") as uow:
        session = uow.traces.get_session("s1")
        assert (session.name, session.status, session.tags, session.metadata) == ("Checkout", "completed", ["prod"],
                                                                                  {"k": 1})
        events = uow.traces.events("s1")
        assert [e.id for e in events] == ["e1", "e2"] and events[0].input == {"$weird.key": [1, 2]}
        assert events[1].name == "resent"
        listed = uow.traces.list_sessions()
        assert [s.id for s, _ in listed] == ["s2", "s1"]
        totals = dict((s.id, t) for s, t in listed)["s1"]
        assert (totals["events"], totals["errors"], totals["prompt_tokens"]) == (2, 1, 3)
        assert totals["last_event_at"] == T0 + timedelta(seconds=3)
        assert [s.id for s, _ in uow.traces.list_sessions(tag="prod")] == ["s1"]
        assert [s.id for s, _ in uow.traces.list_sessions(search="CHECK")] == ["s1"]
        assert uow.traces.list_sessions(search="s1", status="running") == [], "a search narrows, never widens"
        assert uow.traces.count_sessions(user="u1") == 1 and uow.traces.count_sessions(status="running") == 1


def test_prompts_guardrails_and_rag_modules(acme):
    with acme.tenant("acme") as uow:
        prompt = uow.prompts.add(PromptRecord(name="greet", labels={"production": 1}))
        for version in (1, 2):
            uow.prompts.add_version(PromptVersionRecord(prompt_id=prompt.id, version=version,
                                                        messages=[{"role": "user", "content": f"v{version}"}],
                                                        params={"$odd": 1}))
        uow.guardrails.add(GuardrailPolicyRecord(name="pii", rules=[{"type": "regex", "pattern": "a.b"}]))
        uow.guardrails.add_verdicts([GuardrailVerdictRecord(policy="pii", direction="input", action="block", at=T0),
                                     GuardrailVerdictRecord(policy="x", direction="input", action="flag",
                                                            at=T0 + timedelta(seconds=1))])
        uow.rag_modules.add(RagModuleRecord(name="qa", model="m", vector_store_ids=["vs_1", "vs_2"]))
        uow.rag_modules.add(RagModuleRecord(name="other", model="m", vector_store_ids=["vs_3"]))
        uow.commit()
    # A duplicate key ends its unit of work on both backends (SQLite rolls back; MongoDB aborts the transaction).
    with acme.tenant("acme") as uow, pytest.raises(DuplicateKey):
        uow.prompts.add_version(PromptVersionRecord(prompt_id=prompt.id, version=2, messages=[]))
    with acme.tenant("acme") as uow:
        assert [v.version for v in uow.prompts.versions(prompt.id)] == [2, 1]
        assert uow.prompts.version(prompt.id, 2).params == {"$odd": 1}
        assert uow.prompts.update(prompt.id, {"labels": {"production": 2}}).labels == {"production": 2}
        assert [v.policy for v in uow.guardrails.recent_verdicts()] == ["x", "pii"]
        assert [v.policy for v in uow.guardrails.recent_verdicts(policy="pii")] == ["pii"]
        assert [m.name for m in uow.rag_modules.using_store("vs_2")] == ["qa"]
        assert uow.prompts.delete(prompt.id)
        uow.commit()
    with acme.tenant("acme") as uow:
        assert uow.prompts.versions(prompt.id) == [] and uow.prompts.get_by_name("greet") is None


def test_vector_stores_files_batches_leases_and_pages(acme):
    with acme.tenant("acme") as uow:
        for i in range(3):
            uow.vector_stores.add(VectorStoreRecord(id=f"vs_{i}", name=f"s{i}", embedding_model="e",
                                                    metadata={"a.b": str(i)}, created_at=T0 + timedelta(minutes=i)))
        uow.vector_stores.add_batch(VectorFileBatchRecord(id="vsb_1", store_id="vs_0"))
        for i, status in enumerate(("in_progress", "completed", "failed")):
            uow.vector_stores.add_file(VectorFileRecord(store_id="vs_0", file_id=f"file-{i}", status=status,
                                                        batch_id="vsb_1", attributes={"$k": i},
                                                        created_at=T0 + timedelta(seconds=i)))
        uow.commit()
    with acme.tenant("acme") as uow:
        repo = uow.vector_stores
        assert [s.id for s in repo.list()] == ["vs_2", "vs_1", "vs_0"]
        assert [s.id for s in repo.list(after="vs_2", limit=1)] == ["vs_1"]
        assert [s.id for s in repo.list(order="asc", before="vs_2")] == ["vs_0", "vs_1"]
        assert repo.get("vs_1").metadata == {"a.b": "1"}
        assert repo.file_counts(["vs_0", "vs_1"])["vs_0"] == {"in_progress": 1, "completed": 1, "cancelled": 0,
                                                               "failed": 1}
        assert repo.batch_counts("vsb_1") == {"in_progress": 1, "completed": 1, "failed": 1}
        assert [f.file_id for f in repo.list_files("vs_0", after="file-2")] == ["file-1", "file-0"]
        assert [f.file_id for f in repo.list_files("vs_0", status="failed")] == ["file-2"]
        assert repo.update_file("vs_0", "file-1", {"attributes": {"$k": 9}}).attributes == {"$k": 9}
        assert [f.file_id for f in repo.pending_files()] == ["file-0"]
        # One lease at a time, until it runs out.
        assert repo.claim_file("vs_0", "file-0", T0, T0 + timedelta(minutes=5))
        assert not repo.claim_file("vs_0", "file-0", T0 + timedelta(minutes=1), T0 + timedelta(minutes=6))
        assert repo.claim_file("vs_0", "file-0", T0 + timedelta(minutes=10), T0 + timedelta(minutes=15))
        assert not repo.claim_file("vs_0", "file-1", T0, T0 + timedelta(minutes=5))  # completed: nothing to do
        expired = T0 + timedelta(minutes=1)
        repo.add_file(VectorFileRecord(store_id="vs_0", file_id="file-9", lease_until=expired, created_at=T0))
        assert not repo.claim_file("vs_0", "file-0", T0 + timedelta(minutes=11), T0 + timedelta(minutes=16))
        assert repo.get_file("vs_0", "file-9").lease_until == expired, "a claim touches the file named, no other"
        assert repo.stores_with_file("file-1") == ["vs_0"]
        assert repo.update_batch("vsb_1", {"status": "completed"}).status == "completed"
        assert repo.delete("vs_0") and repo.get_file("vs_0", "file-1") is None and repo.get_batch("vsb_1") is None
        uow.commit()


def test_memory_stores_memories_history_and_jobs(acme):
    with acme.tenant("acme") as uow:
        repo = uow.memory
        repo.add(MemoryStoreRecord(id="mst_1", name="assistant", embedding_model="e", extraction_model="c"))
        for i, (user, agent) in enumerate((("alice", ""), ("alice", "barista"), ("bob", ""))):
            repo.add_memory(MemoryRecord(id=f"mem_{i}", store_id="mst_1", text=f"fact {i}", hash=f"h{i}",
                                         user_id=user, agent_id=agent, metadata={"$tag.x": i},
                                         expires_at=T0 if i == 2 else None, created_at=T0 + timedelta(minutes=i)))
            repo.add_events([MemoryEventRecord(store_id="mst_1", memory_id=f"mem_{i}", event="ADD", new_text=f"fact {i}",
                                               user_id=user, at=T0 + timedelta(minutes=i))])
        repo.add_job(MemoryJobRecord(store_id="mst_1", id="mjob_1", created_at=T0))
        uow.commit()
    with acme.tenant("acme") as uow:
        repo = uow.memory
        assert [m.id for m in repo.list_memories("mst_1")] == ["mem_2", "mem_1", "mem_0"]
        assert [m.id for m in repo.list_memories("mst_1", user_id="alice", after="mem_1")] == ["mem_0"]
        assert repo.count_memories("mst_1", user_id="alice") == 2
        assert repo.scope_values("mst_1", "agent_id") == ["barista"]
        assert repo.find_hash("mst_1", "h1", "alice", "barista", "").id == "mem_1"
        assert repo.find_hash("mst_1", "h1", "alice", "", "") is None
        assert repo.get_memory("mem_0").metadata == {"$tag.x": 0}
        changed = repo.update_memory("mem_0", {"text": "fact 0b", "expires_at": T0 + timedelta(days=1)})
        assert changed.text == "fact 0b" and changed.expires_at == T0 + timedelta(days=1)
        assert [m.id for m in repo.expired(T0 + timedelta(hours=1))] == ["mem_2"]
        assert repo.daily_events("mst_1", T0) == {"2026-12-01": {"ADD": 3}}
        assert sorted(repo.delete_user("mst_1", "alice")) == ["mem_0", "mem_1"]
        assert repo.delete_user_history("mst_1", "alice") == ["mem_0", "mem_1"]
        assert repo.history("mem_0") == [] and len(repo.history("mem_2")) == 1
        assert [j.id for j in repo.stale_jobs(T0 + timedelta(minutes=1))] == ["mjob_1"]
        done = repo.update_job("mjob_1", {"status": "completed", "results": [{"$x": 1}], "completed_at": T0})
        assert done.results == [{"$x": 1}] and done.completed_at == T0
        assert repo.stale_jobs(T0 + timedelta(minutes=1)) == []
        assert repo.delete("mst_1") and repo.get_memory("mem_2") is None and repo.get_job("mjob_1") is None
        uow.commit()


def test_alert_channels_rules_events_and_deliveries(acme):
    with acme.tenant("acme") as uow:
        repo = uow.alerts
        mail = repo.add_channel(AlertChannelRecord(name="ops", type="email", recipients=["a@x.io", "b@x.io"],
                                                   overrides={"firing": {"subject": "{{ rule }} $x.y"}}))
        hook = repo.add_channel(AlertChannelRecord(name="hook", type="webhook", url="https://h.example/x",
                                                   secret_enc="cipher"))
        uow.commit()
    with acme.tenant("acme") as uow, pytest.raises(DuplicateKey) as info:
        uow.alerts.add_channel(AlertChannelRecord(name="ops", type="email"))
    assert info.value.field == "name"
    with acme.tenant("acme") as uow:
        repo = uow.alerts
        assert [c.name for c in repo.list_channels()] == ["hook", "ops"]
        assert repo.get_channel(mail.id).overrides == {"firing": {"subject": "{{ rule }} $x.y"}}
        assert repo.update_channel(hook.id, {"enabled": False}).enabled is False
        fast = repo.add_rule(AlertRuleRecord(name="latency", metric="latency_p95", warning=500, critical=2000,
                                             channel_ids=[hook.id], enabled=False))
        errors = repo.add_rule(AlertRuleRecord(name="errors", metric="error_rate", critical=0.05,
                                               filters={"model": "gpt-test"}, channel_ids=[mail.id, hook.id]))
        assert [r.name for r in repo.list_rules()] == ["errors", "latency"]
        assert [r.name for r in repo.list_rules(enabled_only=True)] == ["errors"]
        changed = repo.update_rule(errors.id, {"state": "critical", "last_value": 0.3, "last_notified_at": T0})
        assert (changed.state, changed.last_value, changed.last_notified_at) == ("critical", 0.3, T0)
        first = repo.add_event(AlertEventRecord(rule_id=errors.id, rule_name="errors", state="firing",
                                                severity="critical", value=0.3, threshold=0.05, at=T0))
        repo.add_event(AlertEventRecord(rule_id=errors.id, rule_name="errors", state="resolved", severity="critical",
                                        value=0.0, threshold=0.05, at=T0 + timedelta(minutes=5)))
        repo.add_event(AlertEventRecord(rule_id=fast.id, rule_name="latency", state="firing", severity="warning",
                                        value=800, threshold=500, at=T0 + timedelta(minutes=1)))
        repo.add_delivery(AlertDeliveryRecord(event_id=first.id, channel_id=mail.id, channel_type="email", ok=True,
                                              at=T0))
        repo.add_delivery(AlertDeliveryRecord(event_id=first.id, channel_id=hook.id, channel_type="webhook", ok=False,
                                              attempts=3, status=503, error="HTTP 503", at=T0 + timedelta(seconds=9)))
        uow.commit()
    with acme.tenant("acme") as uow:
        repo = uow.alerts
        assert [e.state for e in repo.list_events(rule_id=errors.id)] == ["resolved", "firing"], "newest first"
        assert len(repo.list_events()) == 3 and len(repo.list_events(offset=1, limit=1)) == 1
        acked = repo.update_event(first.id, {"acknowledged_by": "ops@x.io", "acknowledged_at": T0})
        assert (acked.acknowledged_by, acked.acknowledged_at) == ("ops@x.io", T0)
        assert [d.channel_type for d in repo.list_deliveries(event_id=first.id)] == ["webhook", "email"]
        assert [d.status for d in repo.list_deliveries(channel_id=hook.id)] == [503]
        assert repo.delete_rule(fast.id) and not repo.delete_rule(fast.id)
        assert repo.delete_channel(hook.id) and repo.get_channel(hook.id) is None
        uow.commit()


def test_stored_responses_keep_their_json_and_are_deleted(acme):
    body = {"id": "resp_1", "object": "response", "output": [{"type": "message", "content": [{"text": "hi $x"}]}],
            "text": {"format": {"type": "json_schema", "schema": {"$ref": "#/$defs/a", "$defs": {"a": {}}}}}}
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi $x", "tool_calls": None}]
    with acme.tenant("acme") as uow:
        uow.responses.add(StoredResponseRecord(id="resp_1", model="gpt-test", body=body,
                                               input_items=[{"id": "msg_1", "type": "message", "role": "user",
                                                             "content": [{"type": "input_text", "text": "hi"}]}],
                                               messages=messages, created_at=T0))
        uow.commit()
    with acme.tenant("acme") as uow:
        kept = uow.responses.get("resp_1")
        assert (kept.body, kept.messages, kept.created_at) == (body, messages, T0)
        assert kept.input_items[0]["content"][0]["text"] == "hi"
        assert uow.responses.get("resp_missing") is None
        assert uow.responses.delete("resp_1") is True and uow.responses.delete("resp_1") is False
        uow.commit()
    with acme.tenant("acme") as uow:
        assert uow.responses.get("resp_1") is None
        for n, age in enumerate((40, 31, 1)):
            uow.responses.add(StoredResponseRecord(id=f"resp_old{n}", model="m", created_at=T0 - timedelta(days=age)))
        uow.commit()
    with acme.tenant("acme") as uow:
        assert uow.responses.delete_created_before(T0 - timedelta(days=30)) == 2
        uow.commit()
    with acme.tenant("acme") as uow:
        assert [uow.responses.get(f"resp_old{n}") is None for n in range(3)] == [True, True, False]
