"""Chat completions, embeddings and models through the official openai SDK."""

import json

import openai
import pytest


async def test_chat_completion_rewrites_the_model_and_passes_everything_else(sdk, upstream, gateway):
    response = await sdk.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi there"}], temperature=0.2, n=2, stop=["END"],
        seed=7, user="end-user-1", response_format={"type": "json_object"}, extra_body={"vendor_knob": {"a": 1}})
    completion = response.parse()
    assert completion.choices[0].message.content == "echo: hi there"
    assert len(completion.choices) == 2
    assert completion.usage.total_tokens > 0
    assert response.headers["x-gatehouse-upstream-model"] == "fake-chat"
    assert response.headers["x-request-id"]
    sent = upstream.calls("/chat/completions")[-1]
    assert sent.body["model"] == "fake-chat"
    for name, value in (("temperature", 0.2), ("n", 2), ("stop", ["END"]), ("seed", 7), ("user", "end-user-1"),
                        ("response_format", {"type": "json_object"}), ("vendor_knob", {"a": 1})):
        assert sent.body[name] == value, name
    assert sent.headers["Authorization"] == "Bearer sk-upstream-secret-0001"


async def test_tools_round_trip(sdk):
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    completion = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "w?"}],
                                                   tools=tools)
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_streaming_relays_chunks_and_usage_when_asked(sdk, upstream):
    stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "one two three four"}],
                                               stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


async def test_streaming_without_usage_hides_the_usage_chunk_but_still_measures_it(sdk, upstream, platform):
    stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "a b c"}],
                                               stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks), "the client did not ask for a usage chunk"
    assert upstream.calls("/chat/completions")[-1].body["stream_options"] == {"include_usage": True}
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        record = uow.usage.recent(limit=1)[0]
    assert record.stream and record.completion_tokens > 0 and record.prompt_tokens > 0


async def test_the_estimate_counts_the_chat_format_and_never_passes_max_tokens(sdk, upstream):
    from tests.support.fake_upstream import Behaviour

    upstream.always(Behaviour(usage_in_stream=False, chunks=30, content=" ".join(["word"] * 30)))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name two colors."}]
    stream = await sdk.chat.completions.create(model="gpt-test", messages=messages, max_tokens=12, stream=True,
                                               stream_options={"include_usage": True})
    usage = [chunk async for chunk in stream][-1].usage
    assert usage.completion_tokens == 12  # 30 pieces arrived; the request capped the answer at 12 tokens
    # 25 characters (~6 tokens) plus the format's ~4 a message and 3 for the reply, as OpenAI counts.
    assert usage.prompt_tokens == 25 // 4 + 1 + 2 * 4 + 3


async def test_a_stream_whose_upstream_sends_no_usage_ends_with_the_recorded_estimate(sdk, upstream, platform):
    from tests.support.fake_upstream import Behaviour

    upstream.always(Behaviour(usage_in_stream=False))  # like llama.cpp's server
    stream = await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "a b c"}],
                                               stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, "the client asked for usage"
    assert last.usage.model_extra == {"estimated": True}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: a b c"
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        record = uow.usage.recent(limit=1)[0]
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (record.prompt_tokens, record.completion_tokens)
    assert last.usage.total_tokens == record.prompt_tokens + record.completion_tokens > 0


async def test_embeddings_string_and_list(sdk, upstream):
    single = await sdk.embeddings.create(model="embed-test", input="hello world", dimensions=4)
    assert len(single.data) == 1 and len(single.data[0].embedding) == 4
    many = await sdk.embeddings.create(model="embed-test", input=["a", "b", "c"], encoding_format="float")
    assert [d.index for d in many.data] == [0, 1, 2]
    sent = upstream.calls("/embeddings")[-1].body
    assert sent["model"] == "fake-embed" and sent["encoding_format"] == "float"


async def test_models_list_and_retrieve(sdk):
    listed = await sdk.models.list()
    assert sorted(m.id for m in listed.data) == ["embed-test", "gpt-test"]
    assert all(m.owned_by == "fake" for m in listed.data)
    assert (await sdk.models.retrieve("gpt-test")).id == "gpt-test"
    with pytest.raises(openai.NotFoundError):
        await sdk.models.retrieve("nope")


async def test_token_model_scopes(admin, platform, gateway):
    from tests.api.conftest import sdk_for

    scoped = await admin.create_token("acme", name="scoped", scopes={"models": ["embed-test"]})
    client = sdk_for(platform, scoped["token"])
    try:
        assert [m.id for m in (await client.models.list()).data] == ["embed-test"]
        with pytest.raises(openai.NotFoundError) as info:
            await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert info.value.body["code"] == "model_not_found"
    finally:
        await client.close()


async def test_bad_requests_are_400_in_openai_shape(sdk, client, gateway):
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="gpt-test", messages=[])
    assert info.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="embed-test", messages=[{"role": "user", "content": "x"}])
    assert "embedding model" in info.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="does-not-exist", messages=[{"role": "user", "content": "x"}])
    raw = await client.post("/v1/chat/completions", content=b"{not json",
                            headers={"Authorization": f"Bearer {gateway['token']}"})
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}],
                                          max_tokens=-3)
    assert info.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.embeddings.create(model="embed-test", input="")
    assert info.value.body["param"] == "input"


async def test_models_of_another_tenant_are_404(admin, platform, gateway):
    from tests.api.conftest import sdk_for

    await admin.create_tenant("other")
    other_token = await admin.create_token("other")
    client = sdk_for(platform, other_token["token"])
    try:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
        assert (await client.models.list()).data == []
    finally:
        await client.close()
