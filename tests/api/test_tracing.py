"""Agent tracing: ingestion, trees, limits, automatic llm events, filters and isolation."""

import openai

from tests.api.conftest import sdk_for
from tests.support.fake_upstream import Behaviour


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_session_events_tree_and_totals(admin, client, platform, gateway):
    headers = _auth(gateway["token"])
    started = await client.post("/v1/tracing/sessions", headers=headers,
                                json={"name": "support bot", "user": "u-42", "tags": ["prod", "chat"]})
    assert started.status_code == 202
    sid = started.json()["id"]
    root = await client.post(f"/v1/tracing/sessions/{sid}/events", headers=headers, json={
        "id": "plan", "type": "custom", "name": "plan", "input": {"goal": "answer"},
        "started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:00:02Z"})
    assert root.status_code == 202 and root.json()["ids"] == ["plan"]
    batch = await client.post(f"/v1/tracing/sessions/{sid}/events", headers=headers, json={"events": [
        {"id": "search", "parent_id": "plan", "type": "retrieval", "name": "kb search", "output": ["doc1"]},
        {"id": "llm1", "parent_id": "plan", "type": "llm", "name": "draft", "prompt_tokens": 10,
         "completion_tokens": 5, "cost_usd": 0.002},
        {"id": "tool1", "parent_id": "llm1", "type": "tool", "name": "calculator", "status": "error"},
        {"id": "lost", "parent_id": "never-sent", "type": "custom", "name": "orphan"},
    ]})
    assert batch.status_code == 202 and len(batch.json()["ids"]) == 4
    assert (await client.patch(f"/v1/tracing/sessions/{sid}", headers=headers, json={"status": "completed"})
            ).status_code == 202
    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", f"/traces/sessions/{sid}", tenant="acme", expect=200)).json()
    assert detail["name"] == "support bot" and detail["status"] == "completed" and detail["ended_at"]
    assert detail["events"] == 5 and detail["errors"] == 1
    assert detail["prompt_tokens"] == 10 and detail["cost_usd"] == 0.002
    tree = {e["id"]: e for e in detail["tree"]}
    assert set(tree) == {"plan", "lost"} and tree["lost"]["orphan"]
    children = {c["id"]: c for c in tree["plan"]["children"]}
    assert set(children) == {"search", "llm1"}
    assert [c["id"] for c in children["llm1"]["children"]] == ["tool1"]
    assert tree["plan"]["duration_ms"] == 2000 and tree["plan"]["input"] == {"goal": "answer"}


async def test_events_first_create_the_session_and_limits(admin, client, platform, gateway):
    headers = _auth(gateway["token"])
    await client.post("/v1/tracing/sessions/late-session/events", headers=headers,
                      json={"type": "tool", "name": "first", "input": "x" * 40_000})
    too_big = await client.post("/v1/tracing/sessions/late-session/events", headers=headers,
                                content=b'{"name": "' + b"y" * 1_100_000 + b'"}')
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    bad = await client.post("/v1/tracing/sessions/late-session/events", headers=headers, json={"type": "weird"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "type"
    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", "/traces/sessions/late-session", tenant="acme", expect=200)).json()
    stored = detail["event_list"][0]["input"]
    assert stored.startswith("x" * 100) and stored.endswith("[truncated 8000 characters]")


async def test_chat_with_session_header_records_an_llm_event(admin, platform, upstream, gateway):
    await admin.call("POST", "/guardrails", tenant="acme", expect=201, json={
        "name": "flag-pii", "rules": [{"type": "pii", "entities": ["email"], "action": "flag"}]})
    token = await admin.create_token("acme", name="traced", guardrails=["flag-pii"])
    sdk = sdk_for(platform, token["token"])
    try:
        reply = await sdk.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "mail a@b.io"}],
            extra_headers={"x-session-id": "agent-run-1", "x-parent-event-id": "step-1"})
        event_id = reply.headers["x-gatehouse-event-id"]
        stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "go on"}],
                                                   stream=True, extra_headers={"x-session-id": "agent-run-1"})
        [c async for c in stream]
        await sdk.embeddings.create(model="embed-test", input="vector me",
                                    extra_headers={"x-session-id": "agent-run-1"})
    finally:
        await sdk.close()
    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", "/traces/sessions/agent-run-1", tenant="acme", expect=200)).json()
    by_id = {e["id"]: e for e in detail["event_list"]}
    llm = by_id[event_id]
    assert llm["type"] == "llm" and llm["parent_id"] == "step-1" and llm["model"] == "gpt-test"
    assert llm["input"] == [{"role": "user", "content": "mail a@b.io"}]
    assert llm["output"]["content"] == "echo: mail a@b.io"
    assert llm["prompt_tokens"] > 0 and llm["cost_usd"] > 0
    assert llm["metadata"]["guardrails"][0]["policy"] == "flag-pii"
    guard = {e["id"]: e for e in detail["event_list"] if e["type"] == "guardrail"}
    for direction in ("input", "output"):
        event = guard[f"{event_id}-{direction}-guardrail"]
        assert event["parent_id"] == event_id and event["output"]["action"] == "flag"
        assert event["output"]["matches"][0]["entity"] == "email"
    streamed = [e for e in detail["event_list"] if e["type"] == "llm" and e["id"] != event_id and
                e["name"].startswith("chat")][0]
    assert streamed["output"]["content"] == "echo: go on"
    assert any(e["name"].startswith("embedding") for e in detail["event_list"])


async def test_failed_calls_are_traced_as_errors(platform, upstream, gateway, admin):
    upstream.always(Behaviour(status=500))
    sdk = sdk_for(platform, gateway["token"])
    try:
        try:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                              extra_headers={"x-session-id": "failing-run"})
        except openai.APIStatusError:
            pass
    finally:
        await sdk.close()
    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", "/traces/sessions/failing-run", tenant="acme", expect=200)).json()
    assert detail["event_list"][0]["status"] == "error" and detail["errors"] == 1


async def test_session_list_filters(admin, client, platform, gateway):
    headers = _auth(gateway["token"])
    for name, user, tags in (("alpha run", "ann", ["prod"]), ("beta run", "bob", ["dev"]), ("gamma", "ann", [])):
        await client.post("/v1/tracing/sessions", headers=headers, json={"name": name, "user": user, "tags": tags})
    platform.trace_recorder.writer.flush()

    async def names(**params):
        page = (await admin.call("GET", "/traces/sessions", tenant="acme", params=params, expect=200)).json()
        return sorted(s["name"] for s in page["items"])

    assert await names() == ["alpha run", "beta run", "gamma"]
    assert await names(user="ann") == ["alpha run", "gamma"]
    assert await names(tag="prod") == ["alpha run"]
    assert await names(search="RUN") == ["alpha run", "beta run"]
    assert await names(status="completed") == []


async def test_sessions_are_per_tenant(admin, client, platform, gateway):
    await client.post("/v1/tracing/sessions", headers=_auth(gateway["token"]), json={"id": "shared-id", "name": "A"})
    await admin.create_tenant("other")
    other = await admin.create_token("other")
    await client.post("/v1/tracing/sessions/shared-id/events", headers=_auth(other["token"]),
                      json={"name": "from B"})
    platform.trace_recorder.writer.flush()
    a = (await admin.call("GET", "/traces/sessions/shared-id", tenant="acme", expect=200)).json()
    b = (await admin.call("GET", "/traces/sessions/shared-id", tenant="other", expect=200)).json()
    assert a["name"] == "A" and a["events"] == 0
    assert b["events"] == 1 and b["event_list"][0]["name"] == "from B"
    assert (await admin.call("GET", "/traces/sessions/nope", tenant="acme")).status_code == 404


async def test_a_running_session_with_nothing_new_for_a_while_is_idle(admin, client, platform, gateway):
    from datetime import UTC, datetime, timedelta

    headers = _auth(gateway["token"])
    old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    await client.post("/v1/tracing/sessions", headers=headers, json={"id": "forgotten", "started_at": old})
    await client.post("/v1/tracing/sessions", headers=headers, json={"id": "busy", "started_at": old})
    await client.post("/v1/tracing/sessions/busy/events", headers=headers, json={"events": [{"id": "now"}]})
    await client.post("/v1/tracing/sessions", headers=headers, json={"id": "done", "started_at": old})
    await client.patch("/v1/tracing/sessions/done", headers=headers, json={"status": "completed"})
    platform.trace_recorder.writer.flush()
    page = (await admin.call("GET", "/traces/sessions", tenant="acme", expect=200)).json()
    idle = {s["id"]: s["idle"] for s in page["items"]}
    assert idle == {"forgotten": True, "busy": False, "done": False}  # the default: 30 minutes without news
    detail = (await admin.call("GET", "/traces/sessions/forgotten", tenant="acme", expect=200)).json()
    assert detail["idle"] and detail["status"] == "running"
