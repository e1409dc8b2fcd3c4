"""Memory stores: decisions (ADD, NONE by hash and by similarity, UPDATE with history, DELETE), scoping,
search with thresholds and filters, expiry, forgetting a user, async adds and failures of the extraction
model, through plain HTTP on the SDK's client as an agent would call them."""

import json
from datetime import timedelta

import openai
import pytest

from tests.support.fake_upstream import Behaviour

EMBED = Behaviour()  # an embedding call answered normally (the fake's scripts count every request)


def facts(*items: str) -> Behaviour:
    """The extraction model's scripted answer."""
    return Behaviour(content=json.dumps({"facts": list(items)}))


def decisions(*items: dict) -> Behaviour:
    """The decision model's scripted answer (in a code fence, as small models like to answer)."""
    return Behaviour(content="```json\n" + json.dumps({"decisions": list(items)}) + "\n```")


async def _store(admin, tenant: str = "acme", expect: int = 201, **fields) -> dict:
    body = {"name": fields.pop("name", "assistant"), "embedding_model": "embed-test", "extraction_model": "gpt-test",
            **fields}
    return (await admin.call("POST", "/memory-stores", tenant=tenant, json=body, expect=expect)).json()


async def _add(sdk, store: str = "assistant", **body) -> dict:
    return await sdk.post(f"/memory_stores/{store}/memories", body=body, cast_to=object)


async def _search(sdk, store: str = "assistant", **body) -> list[dict]:
    return (await sdk.post(f"/memory_stores/{store}/memories/search", body=body, cast_to=object))["results"]


async def _history(sdk, memory_id: str, store: str = "assistant") -> list[dict]:
    return (await sdk.get(f"/memory_stores/{store}/memories/{memory_id}/history", cast_to=object))["data"]


@pytest.fixture
async def store(admin, gateway):
    return await _store(admin)


async def test_a_new_fact_is_added_with_its_subject_and_the_model_saw_the_conversation(sdk, upstream, store):
    upstream.script(facts("Bob has a PhD in chemistry"), EMBED)
    added = await _add(sdk, user_id="bob", messages=[{"role": "user", "content": "Hi, I'm Bob. I have a PhD in chemistry"},
                                                    {"role": "assistant", "content": "Nice to meet you, Bob"}])
    assert [(r["event"], r["memory"]) for r in added["results"]] == [("ADD", "Bob has a PhD in chemistry")]
    assert added["facts"] == ["Bob has a PhD in chemistry"]
    extraction = upstream.calls("/v1/chat/completions")[0].body
    assert "names its subject" in extraction["messages"][0]["content"]
    assert "user: Hi, I'm Bob. I have a PhD in chemistry\nassistant: Nice to meet you, Bob" in \
        extraction["messages"][1]["content"]
    memory = await sdk.get(f"/memory_stores/assistant/memories/{added['results'][0]['id']}", cast_to=object)
    assert memory["memory"] == "Bob has a PhD in chemistry" and memory["user_id"] == "bob"
    events = await _history(sdk, memory["id"])
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == [
        ("ADD", None, "Bob has a PhD in chemistry")]
    assert events[0]["actor"].startswith("token:") and "model gpt-test" in events[0]["actor"]


async def test_a_restated_fact_is_none_by_hash_without_any_model_call_after_extraction(sdk, upstream, store):
    first = await _add(sdk, user_id="bob", text="Bob likes green tea", infer=False)
    upstream.reset()
    upstream.script(facts("bob likes green tea."))
    again = await _add(sdk, user_id="bob", text="I like green tea, as I said")
    assert [(r["event"], r["id"]) for r in again["results"]] == [("NONE", first["results"][0]["id"])]
    assert len(upstream.calls("/v1/chat/completions")) == 1 and not upstream.calls("/v1/embeddings")


async def test_a_near_duplicate_is_none_by_similarity_before_the_decision_call(sdk, admin, upstream, store):
    await _store(admin, name="strict", similarity_threshold=0.8)
    await _add(sdk, "strict", user_id="bob", text="Bob likes green tea every morning", infer=False)
    upstream.reset()
    upstream.script(facts("Bob likes green tea every single morning"), EMBED)
    again = await _add(sdk, "strict", user_id="bob", text="tea")
    assert [r["event"] for r in again["results"]] == ["NONE"] and "similar" in again["results"][0]["reason"]
    assert len(upstream.calls("/v1/chat/completions")) == 1  # extraction only, no decision call


async def test_a_changed_fact_is_an_update_with_history_and_a_contradiction_deletes(sdk, upstream, store):
    paris = (await _add(sdk, user_id="bob", text="Bob lives in Paris", infer=False))["results"][0]["id"]
    tea = (await _add(sdk, user_id="bob", text="Bob drinks coffee daily", infer=False))["results"][0]["id"]
    upstream.reset()
    upstream.script(facts("Bob lives in Berlin", "Bob stopped drinking coffee"), EMBED,
                    decisions({"fact": 1, "event": "UPDATE", "memory": 1, "text": "Bob lives in Berlin"},
                              {"fact": 2, "event": "DELETE", "memory": 2}), EMBED)
    changed = await _add(sdk, user_id="bob", messages=[{"role": "user", "content": "I moved to Berlin, no more coffee"}])
    by_event = {r["event"]: r for r in changed["results"]}
    assert by_event["UPDATE"]["id"] == paris and by_event["UPDATE"]["previous_memory"] == "Bob lives in Paris"
    assert by_event["DELETE"]["id"] == tea and by_event["DELETE"]["memory"] == "Bob drinks coffee daily"
    decision = upstream.calls("/v1/chat/completions")[1].body["messages"][1]["content"]
    assert "1. Bob lives in Paris" in decision and "2. Bob drinks coffee daily" in decision
    assert "1. Bob lives in Berlin" in decision
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in await _history(sdk, paris)] == [
        ("ADD", None, "Bob lives in Paris"), ("UPDATE", "Bob lives in Paris", "Bob lives in Berlin")]
    assert [(e["event"], e["old_memory"]) for e in await _history(sdk, tea)] == [
        ("ADD", None), ("DELETE", "Bob drinks coffee daily")]
    with pytest.raises(openai.NotFoundError):
        await sdk.get(f"/memory_stores/assistant/memories/{tea}", cast_to=object)
    found = await _search(sdk, user_id="bob", query="where does Bob live")
    assert [m["memory"] for m in found] == ["Bob lives in Berlin"]


async def test_two_facts_never_both_rewrite_one_memory(sdk, upstream, store):
    paris = (await _add(sdk, user_id="bob", text="Bob lives in Paris", infer=False))["results"][0]["id"]
    upstream.reset()
    upstream.script(facts("Bob lives in Lyon", "Bob lives in Paris no more"), EMBED,
                    decisions({"fact": 1, "event": "UPDATE", "memory": 1, "text": "Bob lives in Lyon"},
                              {"fact": 2, "event": "DELETE", "memory": 1}), EMBED)
    changed = await _add(sdk, user_id="bob", text="moved to Lyon")
    assert [r["event"] for r in changed["results"]] == ["UPDATE", "NONE"]
    assert (await sdk.get(f"/memory_stores/assistant/memories/{paris}", cast_to=object))["memory"] == \
        "Bob lives in Lyon"


async def test_scopes_keep_users_apart_and_tenants_apart(sdk, admin, platform, upstream, store):
    from tests.api.conftest import sdk_for
    from tests.support.api import configure_gateway

    await _add(sdk, user_id="alice", text="Alice is allergic to peanuts", infer=False)
    await _add(sdk, user_id="bob", agent_id="chef", text="Bob is allergic to shellfish", infer=False)
    assert [m["memory"] for m in await _search(sdk, user_id="bob", query="allergic")] == \
        ["Bob is allergic to shellfish"]
    assert [m["memory"] for m in await _search(sdk, agent_id="chef", query="allergic")] == \
        ["Bob is allergic to shellfish"]
    assert await _search(sdk, user_id="bob", agent_id="other", query="allergic") == []
    listed = await sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "alice"}},
                           cast_to=object)
    assert [m["memory"] for m in listed["data"]] == ["Alice is allergic to peanuts"]
    with pytest.raises(openai.BadRequestError) as unscoped:
        await _search(sdk, query="allergic")
    assert unscoped.value.body["param"] == "user_id"

    other = await configure_gateway(admin, upstream.url, tenant="globex")
    await _store(admin, tenant="globex")
    other_sdk = sdk_for(platform, other["token"])
    assert await _search(other_sdk, user_id="alice", query="allergic peanuts") == []
    with pytest.raises(openai.NotFoundError):
        await other_sdk.get(f"/memory_stores/assistant/memories/"
                            f"{listed['data'][0]['id']}", cast_to=object)
    await other_sdk.close()


async def test_threshold_top_k_and_metadata_filters_with_contains_and_not(sdk, store):
    for text, meta in [("Bob plays tennis on Sundays", {"topic": "sport", "level": 3, "source": "chat-web"}),
                       ("Bob plays chess online", {"topic": "games", "level": 5, "source": "chat-mobile"}),
                       ("Bob plays the guitar", {"topic": "music", "level": 1, "source": "import"})]:
        await _add(sdk, user_id="bob", text=text, metadata=meta, infer=False)
    everything = await _search(sdk, user_id="bob", query="Bob plays", top_k=10)
    assert len(everything) == 3 and everything[0]["score"] >= everything[-1]["score"]
    assert len(await _search(sdk, user_id="bob", query="Bob plays", top_k=2)) == 2
    best = everything[0]["score"]
    assert all(m["score"] >= best for m in await _search(sdk, user_id="bob", query="Bob plays", threshold=best))

    def texts(found):
        return sorted(m["memory"] for m in found)

    contains = {"type": "contains", "key": "source", "value": "CHAT"}
    assert texts(await _search(sdk, user_id="bob", query="Bob plays", filters=contains)) == [
        "Bob plays chess online", "Bob plays tennis on Sundays"]
    negated = {"type": "not", "filter": contains}
    assert texts(await _search(sdk, user_id="bob", query="Bob plays", filters=negated)) == ["Bob plays the guitar"]
    compound = {"type": "or", "filters": [{"type": "gte", "key": "level", "value": 5},
                                          {"type": "in", "key": "topic", "value": ["music"]}]}
    assert texts(await _search(sdk, user_id="bob", query="Bob plays", filters=compound)) == [
        "Bob plays chess online", "Bob plays the guitar"]
    listed = await sdk.get("/memory_stores/assistant/memories", cast_to=object, options={"params": {
        "user_id": "bob", "filters": json.dumps({"type": "ne", "key": "topic", "value": "sport"})}})
    assert texts(listed["data"]) == ["Bob plays chess online", "Bob plays the guitar"]
    with pytest.raises(openai.BadRequestError) as bad:
        await _search(sdk, user_id="bob", query="x", filters={"type": "regex", "key": "topic", "value": ".*"})
    assert bad.value.body["param"] == "filters"


async def test_memories_expire_after_the_store_retention_and_the_purge_keeps_history(sdk, admin, platform, store):
    await _store(admin, name="short", retention_days=1)
    kept = (await _add(sdk, "short", user_id="bob", text="Bob is in Rome this week", infer=False))["results"][0]
    assert (await _search(sdk, "short", user_id="bob", query="Rome"))[0]["id"] == kept["id"]
    real_clock = platform.memory.writer.clock
    platform.memory.writer.clock = lambda: real_clock() + timedelta(days=2)
    try:
        assert await _search(sdk, "short", user_id="bob", query="Rome") == []
        with pytest.raises(openai.NotFoundError):
            await sdk.get(f"/memory_stores/short/memories/{kept['id']}", cast_to=object)
        assert platform.memory.purge_expired("acme") == 1
    finally:
        platform.memory.writer.clock = real_clock
    assert await _search(sdk, "short", user_id="bob", query="Rome") == []  # the record is gone, not just hidden
    assert [e["event"] for e in await _history(sdk, kept["id"], "short")] == ["ADD", "EXPIRE"]


async def test_forgetting_a_user_removes_rows_and_vectors_and_keeps_only_the_deletion(sdk, platform, store):
    bob = (await _add(sdk, user_id="bob", text="Bob's PIN hint is his cat's name", infer=False))["results"][0]["id"]
    await _add(sdk, user_id="alice", text="Alice's cat is called Tom", infer=False)
    forgotten = await sdk.delete("/memory_stores/assistant/memories", options={"params": {"user_id": "bob"}},
                                 cast_to=object)
    assert forgotten["deleted"] == 1
    assert await _search(sdk, user_id="bob", query="cat name") == []
    assert [m["memory"] for m in await _search(sdk, user_id="alice", query="cat name")] == ["Alice's cat is called Tom"]
    assert platform.vector_layer.count("acme", store["id"]) == 1  # bob's vector is gone from Chroma
    events = await _history(sdk, bob)
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == [("FORGET", None, None)]


async def test_malformed_or_failing_extraction_is_a_502_naming_the_model_and_stores_nothing(sdk, upstream, store):
    for behaviour in (Behaviour(content="Sure! Bob has a PhD."), Behaviour(content='{"facts": "Bob"}'),
                      Behaviour(status=500)):
        upstream.reset()
        upstream.always(behaviour)
        with pytest.raises(openai.APIStatusError) as failed:
            await _add(sdk, user_id="bob", text="I have a PhD")
        assert failed.value.status_code == 502 and "gpt-test" in failed.value.message
        assert failed.value.code == "extraction_failed"
    upstream.reset()
    assert (await sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "bob"}},
                          cast_to=object))["data"] == []
    upstream.script(facts("Bob has a PhD"), EMBED, decisions({"fact": 7, "event": "ADD"}))
    await _add(sdk, user_id="bob", text="Bob has a doctorate", infer=False)
    with pytest.raises(openai.APIStatusError) as bad_decision:
        await _add(sdk, user_id="bob", text="I have a PhD")
    assert bad_decision.value.status_code == 502


async def test_nothing_to_remember_says_so_and_bad_input_is_a_400(sdk, upstream, store):
    upstream.script(facts())
    empty = await _add(sdk, user_id="bob", text="hello there")
    assert empty["results"] == [] and empty["facts"] == [] and "nothing worth remembering" in empty["message"]
    for body, param in [({"text": "x"}, "user_id"), ({"user_id": "bob"}, "messages"),
                        ({"user_id": "bob", "messages": [{"role": "robot", "content": "x"}]}, "messages"),
                        ({"user_id": "bob", "text": "x", "metadata": {"k": {"nested": 1}}}, "metadata"),
                        ({"user_id": "b" * 201, "text": "x"}, "user_id")]:
        with pytest.raises(openai.BadRequestError) as bad:
            await _add(sdk, **body)
        assert bad.value.body["param"] == param
    with pytest.raises(openai.NotFoundError):
        await _add(sdk, "nope", user_id="bob", text="x")


async def test_an_async_add_answers_202_and_its_job_holds_the_decisions(sdk, platform, upstream, store):
    upstream.script(facts("Bob prefers window seats"), EMBED)
    job = await _add(sdk, user_id="bob", text="I always take a window seat", **{"async": True})
    assert job["object"] == "memory.add_job" and job["status"] == "in_progress"
    await platform.memory.jobs.drain()
    done = await sdk.get(f"/memory_stores/assistant/add_jobs/{job['id']}", cast_to=object)
    assert done["status"] == "completed" and [r["event"] for r in done["results"]] == ["ADD"]
    upstream.always(Behaviour(content="no json here"))
    failing = await _add(sdk, user_id="bob", text="something", **{"async": True})
    await platform.memory.jobs.drain()
    failed = await sdk.get(f"/memory_stores/assistant/add_jobs/{failing['id']}", cast_to=object)
    assert failed["status"] == "failed" and failed["error"]["code"] == "extraction_failed"


async def test_edit_and_delete_keep_history(sdk, store):
    memory = (await _add(sdk, user_id="bob", text="Bob's sister is Ann", infer=False))["results"][0]
    edited = await sdk.patch(f"/memory_stores/assistant/memories/{memory['id']}", cast_to=object,
                             body={"text": "Bob's sister is Anna", "metadata": {"checked": True}})
    assert edited["memory"] == "Bob's sister is Anna" and edited["metadata"] == {"checked": True}
    assert (await _search(sdk, user_id="bob", query="sister Anna"))[0]["memory"] == "Bob's sister is Anna"
    await sdk.delete(f"/memory_stores/assistant/memories/{memory['id']}", cast_to=object)
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in await _history(sdk, memory["id"])] == [
        ("ADD", None, "Bob's sister is Ann"), ("UPDATE", "Bob's sister is Ann", "Bob's sister is Anna"),
        ("DELETE", "Bob's sister is Anna", None)]


async def test_model_calls_are_usage_records_of_the_store(sdk, admin, platform, upstream, store):
    upstream.script(facts("Bob has a dog"), EMBED)
    await _add(sdk, user_id="bob", text="I have a dog")
    await _search(sdk, user_id="bob", query="pets")
    platform.tasks.flush_all()
    rows = (await admin.call("GET", "/usage/requests", tenant="acme", params={"memory_store": "assistant"},
                             expect=200)).json()
    assert sorted(r["kind"] for r in rows) == ["chat", "embedding", "embedding"]
    assert all(r["memory_store"] == "assistant" for r in rows)
