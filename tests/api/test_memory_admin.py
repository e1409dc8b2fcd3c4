"""Memory through the management API (what the console calls): stores with their memory counts, edits checked
against the tenant's models, a store's overview counters, browsing, searching, history, edits and deletions,
forgetting a user, and members who may read and search but change nothing."""

import pytest

from tests.support.api import AdminApi


async def _add(sdk, text: str, **scope) -> str:
    added = await sdk.post("/memory_stores/assistant/memories", body={"text": text, "infer": False, **scope},
                           cast_to=object)
    return added["results"][0]["id"]


@pytest.fixture
async def store(admin, gateway):
    return (await admin.call("POST", "/memory-stores", tenant="acme", expect=201, json={
        "name": "assistant", "embedding_model": "embed-test", "extraction_model": "gpt-test"})).json()


async def test_stores_list_with_counts_and_edits_are_checked(admin, sdk, store):
    await _add(sdk, "Alice lives in Lisbon", user_id="alice")
    listed = (await admin.call("GET", "/memory-stores", tenant="acme", expect=200)).json()
    assert [(s["name"], s["memories"]) for s in listed] == [("assistant", 1)]
    # Its vectors would not compare with another model's: the embedding model is fixed once memories exist.
    await admin.call("POST", "/models", tenant="acme", expect=201, json={
        "provider": "fake", "name": "embed-2", "upstream_model": "fake-embed", "kind": "embedding"})
    refused = await admin.call("PATCH", "/memory-stores/assistant", tenant="acme", json={"embedding_model": "embed-2"})
    assert refused.status_code == 409 and "cannot change" in refused.text, refused.text
    missing = await admin.call("PATCH", "/memory-stores/assistant", tenant="acme", json={"extraction_model": "nope"})
    assert missing.status_code == 422 and "extraction_model" in missing.text, missing.text
    changed = (await admin.call("PATCH", "/memory-stores/assistant", tenant="acme", expect=200,
                                json={"retention_days": 30, "top_k": 3})).json()
    assert (changed["retention_days"], changed["top_k"], changed["memories"]) == (30, 3, 1)
    cleared = (await admin.call("PATCH", "/memory-stores/assistant", tenant="acme", expect=200,
                                json={"retention_days": None})).json()
    assert cleared["retention_days"] is None and cleared["top_k"] == 3


async def test_overview_browse_search_history_edit_delete_and_forget(admin, sdk, store):
    lisbon = await _add(sdk, "Alice lives in Lisbon", user_id="alice")
    tea = await _add(sdk, "Alice prefers green tea", user_id="alice", agent_id="barista")
    await _add(sdk, "Bob has a PhD in chemistry", user_id="bob")
    base = "/memory-stores/assistant"
    found = (await admin.call("POST", f"{base}/memories/search", tenant="acme", expect=200,
                              json={"query": "green tea", "user_id": "alice"})).json()["results"]
    assert found[0]["id"] == tea and 0 < found[0]["score"] <= 1
    await admin.call("PATCH", f"{base}/memories/{lisbon}", tenant="acme", expect=200, json={"text": "Alice lives in Porto"})
    events = (await admin.call("GET", f"{base}/memories/{lisbon}/history", tenant="acme", expect=200)).json()["data"]
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in events] == [
        ("ADD", None, "Alice lives in Lisbon"), ("UPDATE", "Alice lives in Lisbon", "Alice lives in Porto")]
    assert events[1]["actor"].startswith("console:")

    overview = (await admin.call("GET", f"{base}/overview", tenant="acme", expect=200)).json()
    assert (overview["memories"], overview["users"], overview["agents"]) == (3, ["alice", "bob"], ["barista"])
    today = overview["days"][-1]
    assert len(overview["days"]) == 14
    assert (today["adds"], today["updates"]) == (3, 1)

    by_agent = (await admin.call("GET", f"{base}/memories", tenant="acme", expect=200,
                                 params={"agent_id": "barista"})).json()["data"]
    assert [m["id"] for m in by_agent] == [tea]
    await admin.call("DELETE", f"{base}/memories/{tea}", tenant="acme", expect=200)
    forgot = (await admin.call("DELETE", f"{base}/memories", tenant="acme", expect=200,
                               params={"user_id": "alice"})).json()
    assert forgot["deleted"] == 1
    left = (await admin.call("GET", f"{base}/memories", tenant="acme", expect=200)).json()["data"]
    assert [m["memory"] for m in left] == ["Bob has a PhD in chemistry"]
    after = (await admin.call("GET", f"{base}/overview", tenant="acme", expect=200)).json()
    assert after["memories"] == 1 and after["users"] == ["bob"] and after["days"][-1]["deletes"] == 2
    # The memory deleted before the user was forgotten keeps no text either, only that it was deleted.
    tea_events = (await admin.call("GET", f"{base}/memories/{tea}/history", tenant="acme", expect=200)).json()["data"]
    assert [(e["event"], e["old_memory"], e["new_memory"]) for e in tea_events] == [("FORGET", None, None)]


async def test_members_read_and_search_but_change_nothing(admin, client, sdk, store):
    bob = await _add(sdk, "Bob has a PhD in chemistry", user_id="bob")
    await admin.create_user("acme", "viewer@acme.io", role="member")
    member = AdminApi(client)
    await member.login("viewer@acme.io", "password-123")
    base = "/memory-stores/assistant"
    await member.call("GET", base, expect=200)
    await member.call("GET", f"{base}/memories", expect=200)
    await member.call("GET", f"{base}/memories/{bob}/history", expect=200)
    found = (await member.call("POST", f"{base}/memories/search", expect=200,
                               json={"query": "chemistry", "user_id": "bob"})).json()["results"]
    assert [m["id"] for m in found] == [bob]
    for method, path, kwargs in (("PATCH", f"{base}/memories/{bob}", {"json": {"text": "x"}}),
                                 ("DELETE", f"{base}/memories/{bob}", {}),
                                 ("DELETE", f"{base}/memories", {"params": {"user_id": "bob"}}),
                                 ("PATCH", base, {"json": {"top_k": 2}}), ("DELETE", base, {})):
        response = await member.call(method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
    assert (await admin.call("GET", f"{base}/memories/{bob}/history", tenant="acme", expect=200)).json()["data"][-1][
        "event"] == "ADD"
