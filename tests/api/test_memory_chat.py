"""Chat with memory through the official SDK: the user's relevant memories reach the model as a system
message, their ids come back in the `memory` field (and first in a stream), and with `write` the exchange
is added to the store after the answer; another user's memories never leak into the recall."""

import json

import openai
import pytest

from tests.support.fake_upstream import Behaviour

EMBED = Behaviour()


@pytest.fixture
async def memories(admin, sdk, gateway):
    """Store 'assistant' with two memories of bob and one of alice (stored as given)."""
    await admin.call("POST", "/memory-stores", tenant="acme", expect=201,
                     json={"name": "assistant", "embedding_model": "embed-test", "extraction_model": "gpt-test"})
    ids = {}
    for user, text in (("bob", "Bob is allergic to shellfish"), ("bob", "Bob lives in Lisbon"),
                       ("alice", "Alice is allergic to peanuts")):
        added = await sdk.post("/memory_stores/assistant/memories", cast_to=object,
                               body={"user_id": user, "text": text, "infer": False})
        ids[text] = added["results"][0]["id"]
    return ids


def _system(call) -> str:
    first = call.body["messages"][0]
    return first["content"] if first["role"] == "system" else ""


async def test_recalled_memories_are_injected_and_their_ids_come_back(sdk, upstream, memories):
    upstream.reset()
    answer = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "Am I allergic to shellfish?"}],
        extra_body={"memory": {"store": "assistant", "user_id": "bob", "top_k": 1}})
    used = answer.model_extra["memory"]
    assert used == {"store": "assistant", "ids": [memories["Bob is allergic to shellfish"]]}
    system = _system(upstream.calls("/v1/chat/completions")[0])
    assert "- Bob is allergic to shellfish" in system and "Lisbon" not in system
    assert answer.choices[0].message.content == "echo: Am I allergic to shellfish?"

    both = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "what do you know about me, allergic?"}],
        extra_body={"memory": {"store": "assistant", "user_id": "bob"}})
    assert sorted(both.model_extra["memory"]["ids"]) == sorted(
        [memories["Bob is allergic to shellfish"], memories["Bob lives in Lisbon"]])
    system = _system(upstream.calls("/v1/chat/completions")[-1])
    assert "Bob lives in Lisbon" in system and "peanuts" not in system  # alice's memory stays hers


async def test_a_user_without_memories_gets_no_system_message_and_no_write_without_write(sdk, upstream, platform,
                                                                                          memories):
    upstream.reset()
    answer = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hello there"}],
        extra_body={"memory": {"store": "assistant", "user_id": "carol"}})
    assert answer.model_extra["memory"] == {"store": "assistant", "ids": []}
    assert _system(upstream.calls("/v1/chat/completions")[0]) == ""
    await platform.memory.jobs.drain()
    assert len(upstream.calls("/v1/chat/completions")) == 1  # no extraction call: write was not asked for
    listed = await sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "carol"}},
                           cast_to=object)
    assert listed["data"] == []


async def test_a_stream_sends_the_memory_ids_first_and_write_back_adds_the_exchange(sdk, upstream, platform,
                                                                                     memories):
    upstream.reset()
    # recall embedding, the answer, then the write-back: extraction, embedding of the fact, decision, (no update)
    upstream.script(EMBED, Behaviour(content="Noted, Bob: no shellfish and a new flat in Porto."),
                    Behaviour(content=json.dumps({"facts": ["Bob moved from Lisbon to Porto"]})), EMBED,
                    Behaviour(content=json.dumps({"decisions": [{"fact": 1, "event": "ADD"}]})))
    stream = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "I moved to Porto, where do I live now?"}],
        stream=True, extra_body={"memory": {"store": "assistant", "user_id": "bob", "write": True}})
    chunks = [chunk async for chunk in stream]
    lead = chunks[0].model_extra["memory"]
    assert lead["store"] == "assistant" and memories["Bob lives in Lisbon"] in lead["ids"] and not chunks[0].choices
    assert all("memory" not in (c.model_extra or {}) for c in chunks[1:])
    text = "".join(c.choices[0].delta.content or "" for c in chunks[1:] if c.choices)
    assert text == "Noted, Bob: no shellfish and a new flat in Porto."

    await platform.memory.jobs.drain()
    extraction = upstream.calls("/v1/chat/completions")[1].body["messages"][1]["content"]
    assert "user: I moved to Porto, where do I live now?" in extraction
    assert "assistant: Noted, Bob: no shellfish and a new flat in Porto." in extraction
    listed = await sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "bob"}},
                           cast_to=object)
    assert "Bob moved from Lisbon to Porto" in [m["memory"] for m in listed["data"]]
    alice = await sdk.get("/memory_stores/assistant/memories", options={"params": {"user_id": "alice"}},
                          cast_to=object)
    assert [m["memory"] for m in alice["data"]] == ["Alice is allergic to peanuts"]


async def test_a_non_streamed_write_back_is_queued_after_the_answer(sdk, upstream, platform, memories):
    upstream.reset()
    upstream.script(EMBED, Behaviour(content="Enjoy the concert!"),
                    Behaviour(content=json.dumps({"facts": ["Bob plays the cello"]})), EMBED,
                    Behaviour(content=json.dumps({"decisions": [{"fact": 1, "event": "ADD"}]})))
    answer = await sdk.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "I play the cello tonight"}],
        extra_body={"memory": {"store": "assistant", "user_id": "bob", "write": True}})
    assert answer.choices[0].message.content == "Enjoy the concert!"
    await platform.memory.jobs.drain()
    found = await sdk.post("/memory_stores/assistant/memories/search", cast_to=object,
                           body={"user_id": "bob", "query": "cello"})
    assert found["results"][0]["memory"] == "Bob plays the cello"


async def test_bad_memory_options_are_400s_and_an_unknown_store_a_404(sdk, memories):
    for options, param in (("assistant", "memory"), ({"store": "assistant"}, "user_id"),
                           ({"store": "assistant", "user_id": "bob", "write": "yes"}, "memory")):
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}],
                                              extra_body={"memory": options})
        assert bad.value.body["param"] == param
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}],
                                          extra_body={"memory": {"store": "nope", "user_id": "bob"}})


async def test_a_token_without_the_memory_feature_cannot_use_memory_in_chat(admin, platform, upstream, memories):
    from tests.api.conftest import sdk_for

    token = await admin.create_token("acme", name="chat-only", scopes={"features": ["chat"]})
    client = sdk_for(platform, token["token"])
    try:
        with pytest.raises(openai.PermissionDeniedError) as denied:
            await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}],
                                                 extra_body={"memory": {"store": "assistant", "user_id": "bob"}})
        assert denied.value.code == "feature_disabled"
        plain = await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert plain.choices[0].message.content == "echo: hi"
    finally:
        await client.close()
