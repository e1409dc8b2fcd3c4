"""Trace ingestion integrity: the gateway's own events stay its own, and nothing unstorable is queued."""

from tests.api.conftest import sdk_for


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_ending_a_session_answers_what_was_accepted(client, platform, gateway):
    headers = _auth(gateway["token"])
    await client.post("/v1/tracing/sessions", headers=headers, json={"id": "run-1"})
    ended = await client.patch("/v1/tracing/sessions/run-1", headers=headers, json={"status": "error"})
    assert ended.status_code == 202 and ended.headers["content-type"] == "application/json"
    body = ended.json()
    assert body["id"] == "run-1" and body["object"] == "trace.session" and body["status"] == "error"
    assert body["ended_at"]
    running = (await client.patch("/v1/tracing/sessions/run-1", headers=headers, json={"status": "running"})).json()
    assert running["status"] == "running" and running["ended_at"] is None
    chosen = (await client.patch("/v1/tracing/sessions/run-1", headers=headers,
                                 json={"ended_at": "2026-03-01T10:00:00Z"})).json()
    assert chosen["status"] == "completed" and chosen["ended_at"].startswith("2026-03-01T10:00:00")


async def test_client_events_cannot_replace_the_automatic_llm_event(admin, client, platform, gateway):
    sdk = sdk_for(platform, gateway["token"])
    try:
        reply = await sdk.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-session-id": "agent-run"})
    finally:
        await sdk.close()
    event_id = reply.headers["x-gatehouse-event-id"]
    assert event_id.startswith("gh:")
    headers = _auth(gateway["token"])
    forged = {"id": event_id, "type": "llm", "name": "forged", "output": "rewritten", "prompt_tokens": 1}
    single = await client.post("/v1/tracing/sessions/agent-run/events", headers=headers, json=forged)
    assert single.status_code == 400, single.text
    assert single.json()["error"]["param"] == "id" and "reserved" in single.json()["error"]["message"]
    batch = await client.post("/v1/tracing/sessions/agent-run/events", headers=headers, json={"events": [
        {"id": "tool-1", "parent_id": event_id, "type": "tool"}, {**forged, "id": event_id.upper()}]})
    assert batch.status_code == 400 and batch.json()["error"]["param"] == "events.1.id"
    child = await client.post("/v1/tracing/sessions/agent-run/events", headers=headers,
                              json={"id": "tool-1", "parent_id": event_id, "type": "tool"})
    assert child.status_code == 202 and child.json()["ids"] == ["tool-1"]

    platform.trace_recorder.writer.flush()
    detail = (await admin.call("GET", "/traces/sessions/agent-run", tenant="acme", expect=200)).json()
    by_id = {e["id"]: e for e in detail["event_list"]}
    assert set(by_id) == {event_id, "tool-1"}
    assert by_id[event_id]["name"] == "chat gpt-test" and by_id[event_id]["output"]["content"] == "echo: hello"
    assert [c["id"] for c in detail["tree"][0]["children"]] == ["tool-1"]


async def test_unstorable_trace_input_is_a_400_and_queues_nothing(admin, client, platform, gateway):
    headers = _auth(gateway["token"])
    url = "/v1/tracing/sessions/bounded/events"
    refused = [  # raw JSON: 1e400 has no Python float to send
        (f'"prompt_tokens": {2**64}', "prompt_tokens"),
        ('"completion_tokens": 1000000001', "completion_tokens"),
        ('"cost_usd": 1e400', "cost_usd"),
        (f'"metadata": {{"n": {2**64}}}', "metadata"),
        (f'"input": {{"deep": [1, {{"x": {2**70}}}]}}', "input"),
        (f'"output": -{2**64}', "output"),
        ('"started_at": "0001-01-01T00:00:00Z"', "started_at"),
    ]
    for fields, param in refused:
        response = await client.post(url, headers=headers, content=f'{{"name": "bad", {fields}}}')
        assert response.status_code == 400, f"{fields}: {response.status_code} {response.text}"
        assert response.json()["error"]["param"] == param
    batch = await client.post(url, headers=headers, json={"events": [
        {"id": "fine", "name": "fine"}, {"id": "huge", "metadata": {"big": [2**65]}}]})
    assert batch.status_code == 400 and batch.json()["error"]["param"] == "events.1.metadata"
    for path, body in (("/v1/tracing/sessions", {"id": "s2", "metadata": {"n": 2**64}}),
                       ("/v1/tracing/sessions/s2", {"metadata": {"n": 2**64}}),
                       ("/v1/tracing/sessions/s2", {"tags": ["t" * 101]})):
        method = client.post if path.endswith("sessions") else client.patch
        response = await method(path, headers=headers, json=body)
        assert response.status_code == 400, f"{path} {body}: {response.text}"

    # The largest accepted values are stored, and so are another tenant's events in the same batch
    # (in the same batch as "fine", refused with its batch: a batch is accepted or refused whole).
    await admin.create_tenant("other")
    other = await admin.create_token("other")
    limits = {"id": "max", "prompt_tokens": 1_000_000_000, "cost_usd": 1_000_000, "metadata": {"n": 2**64 - 1}}
    assert (await client.post(url, headers=headers, json=limits)).status_code == 202
    assert (await client.post("/v1/tracing/sessions/theirs/events", headers=_auth(other["token"]),
                              json={"id": "kept"})).status_code == 202
    platform.trace_recorder.writer.flush()
    mine = (await admin.call("GET", "/traces/sessions/bounded", tenant="acme", expect=200)).json()
    assert [e["id"] for e in mine["event_list"]] == ["max"] and mine["event_list"][0]["metadata"]["n"] == 2**64 - 1
    theirs = (await admin.call("GET", "/traces/sessions/theirs", tenant="other", expect=200)).json()
    assert [e["id"] for e in theirs["event_list"]] == ["kept"]
    assert (await admin.call("GET", "/traces/sessions/s2", tenant="acme")).status_code == 404, "refused: not queued"
