"""OpenAI's Responses API (/v1/responses) with the official `openai` SDK, for an OpenAI-compatible model."""

import openai
import pytest

from tests.support.fake_upstream import Behaviour

WEATHER = {"type": "function", "name": "weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


async def test_a_response_is_created_kept_and_read_back(sdk, upstream):
    response = await sdk.responses.create(model="gpt-test", input="hello there", instructions="Be terse.",
                                          metadata={"app": "docs"}, max_output_tokens=64, temperature=0.3)
    assert response.object == "response" and response.status == "completed" and response.model == "gpt-test"
    assert response.output_text == "echo: hello there"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (4, 3)
    assert response.metadata == {"app": "docs"} and response.instructions == "Be terse."
    sent = upstream.calls("/chat/completions")[-1].body
    assert sent["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello there"}]
    assert (sent["max_tokens"], sent["temperature"]) == (64, 0.3)

    again = await sdk.responses.retrieve(response.id)
    assert again.id == response.id and again.output_text == "echo: hello there"
    items = await sdk.responses.input_items.list(response.id)
    assert [(i.type, i.role, i.content[0].text) for i in items.data] == [("message", "user", "hello there")]

    deleted = await sdk.responses.delete(response.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(response.id)


async def test_a_streamed_response_emits_the_typed_event_sequence(sdk, upstream):
    upstream.script(Behaviour(content="one two three four", chunks=2))
    stream = await sdk.responses.create(model="gpt-test", input="count", stream=True)
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                 "response.content_part.done", "response.output_item.done"):
        assert kind in kinds, kind
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "one two three four" and len(deltas) == 2
    assert [e.sequence_number for e in events] == list(range(1, len(events) + 1))
    final = events[-1].response
    assert final.output_text == "one two three four" and final.usage.output_tokens == 2
    kept = await sdk.responses.retrieve(final.id)
    assert kept.output_text == "one two three four", "a streamed response is stored too"


async def test_function_calling_across_two_turns_with_previous_response_id(sdk, upstream):
    first = await sdk.responses.create(model="gpt-test", input="weather in Paris?", tools=[WEATHER],
                                       tool_choice="required")
    (call,) = first.output
    assert (call.type, call.name, call.arguments) == ("function_call", "weather", '{"city": "Paris"}')
    sent = upstream.calls("/chat/completions")[-1].body
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["parameters"] and sent["tool_choice"] == "required"

    second = await sdk.responses.create(model="gpt-test", previous_response_id=first.id, tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 C and sunny"}])
    assert second.output_text.startswith("echo") and second.previous_response_id == first.id
    history = upstream.calls("/chat/completions")[-1].body["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[1]["tool_calls"][0]["id"] == call.call_id
    assert history[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "18 C and sunny"}

    third = await sdk.responses.create(model="gpt-test", previous_response_id=second.id, input="and tomorrow?")
    assert [m["role"] for m in upstream.calls("/chat/completions")[-1].body["messages"]] == \
        ["user", "assistant", "tool", "assistant", "user"]
    assert third.output_text == "echo: and tomorrow?"

    stream = await sdk.responses.create(model="gpt-test", input="weather in Paris?", tools=[WEATHER], stream=True)
    events = [event async for event in stream]
    arguments = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert "".join(arguments) == '{"city": "Paris"}'
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == '{"city": "Paris"}'
    assert events[-1].response.output[0].name == "weather"


async def test_structured_output_and_what_is_refused(sdk, upstream):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
              "additionalProperties": False}
    await sdk.responses.create(model="gpt-test", input="hi", store=False,
                               text={"format": {"type": "json_schema", "name": "reply", "schema": schema,
                                                "strict": True}})
    sent = upstream.calls("/chat/completions")[-1].body
    assert sent["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": schema, "strict": True}}
    with pytest.raises(openai.BadRequestError, match="web_search"):
        await sdk.responses.create(model="gpt-test", input="hi", tools=[{"type": "web_search"}])
    with pytest.raises(openai.BadRequestError, match="background"):
        await sdk.responses.create(model="gpt-test", input="hi", background=True)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.create(model="gpt-test", input="hi", previous_response_id="resp_does_not_exist")
    with pytest.raises(openai.BadRequestError) as empty:
        await sdk.responses.create(model="gpt-test", input=[])
    assert empty.value.body["param"] == "input"
    calls = len(upstream.calls("/chat/completions"))
    unstored = await sdk.responses.create(model="gpt-test", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(unstored.id)
    assert len(upstream.calls("/chat/completions")) == calls + 1


async def test_file_search_answers_from_the_tenants_vector_store_with_citations(sdk, upstream):
    store = await sdk.vector_stores.create(name="handbook")
    await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, poll_interval_ms=20,
        file=("handbook.md", b"Every employee gets twenty seven days of paid holiday per year."))
    await sdk.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, poll_interval_ms=20, file=("menu.txt", b"The cafeteria serves soup on Mondays."))
    upstream.script(Behaviour(), Behaviour(content="Twenty seven days."))  # the query's embedding, then the answer
    response = await sdk.responses.create(
        model="gpt-test", input="how many days of paid holiday?", include=["file_search_call.results"],
        tools=[{"type": "file_search", "vector_store_ids": [store.id], "max_num_results": 1}])
    search, message = response.output
    assert search.type == "file_search_call" and search.queries == ["how many days of paid holiday?"]
    assert [r.filename for r in search.results] == ["handbook.md"]
    assert response.output_text == "Twenty seven days."
    (citation,) = message.content[0].annotations
    assert (citation.type, citation.filename, citation.file_id) == ("file_citation", "handbook.md",
                                                                    search.results[0].file_id)
    system = upstream.calls("/chat/completions")[-1].body["messages"][0]
    assert system["role"] == "system" and "twenty seven days of paid holiday" in system["content"]
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.create(model="gpt-test", input="x",
                                   tools=[{"type": "file_search", "vector_store_ids": ["vs_not_mine"]}])


async def test_another_tenants_token_cannot_read_or_continue_a_response(sdk, admin, platform, upstream):
    from tests.api.conftest import sdk_for
    from tests.support.api import configure_gateway

    response = await sdk.responses.create(model="gpt-test", input="a secret plan")
    globex = await configure_gateway(admin, upstream.url, tenant="globex")
    other = sdk_for(platform, globex["token"])
    try:
        with pytest.raises(openai.NotFoundError):
            await other.responses.retrieve(response.id)
        with pytest.raises(openai.NotFoundError):
            await other.responses.create(model="gpt-test", input="go on", previous_response_id=response.id)
        with pytest.raises(openai.NotFoundError):
            await other.responses.delete(response.id)
    finally:
        await other.close()
    assert (await sdk.responses.retrieve(response.id)).output_text == "echo: a secret plan"


async def test_guardrails_quotas_and_usage_apply_on_this_door_too(admin, platform, upstream):
    from tests.api.conftest import sdk_for
    from tests.support.api import configure_gateway

    setup = await configure_gateway(admin, upstream.url, token_fields={"limits": {"rpm": 1}})
    await admin.call("POST", "/guardrails", tenant="acme", expect=201, json={
        "name": "no-secrets", "rules": [{"type": "keyword", "keywords": ["project zeus"], "action": "block",
                                         "direction": "input"}]})
    await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"guardrails": ["no-secrets"]}, expect=200)
    client = sdk_for(platform, setup["token"])
    try:
        with pytest.raises(openai.BadRequestError) as blocked:
            await client.responses.create(model="gpt-test", input="tell me about Project Zeus")
        assert blocked.value.code == "guardrail_violation"
        assert not upstream.calls("/chat/completions"), "a blocked request never reaches the provider"
        answer = await client.responses.create(model="gpt-test", input="hi")
        with pytest.raises(openai.RateLimitError):
            await client.responses.create(model="gpt-test", input="hi")
    finally:
        await client.close()
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        rows = uow.usage.recent(model="gpt-test")
    assert sorted(r.status for r in rows) == [200, 400], "the block is recorded; a refused quota is not a call"
    ok = next(r for r in rows if r.status == 200)
    assert (ok.prompt_tokens, ok.completion_tokens) == (answer.usage.input_tokens, answer.usage.output_tokens)
    assert ok.cost_usd > 0


async def test_input_images_and_a_streamed_file_search(sdk, upstream):
    await sdk.responses.create(model="gpt-test", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "low"}]}])
    (user,) = upstream.calls("/chat/completions")[-1].body["messages"]
    assert user["content"] == [{"type": "text", "text": "what is this?"},
                               {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg",
                                                                   "detail": "low"}}]
    with pytest.raises(openai.BadRequestError, match="include"):
        await sdk.responses.create(model="gpt-test", input="x", include=["reasoning.encrypted_content"])

    store = await sdk.vector_stores.create(name="menu")
    await sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=20,
                                                  file=("menu.txt", b"The cafeteria serves soup on Mondays."))
    upstream.script(Behaviour(), Behaviour(content="Soup.", chunks=1))
    stream = await sdk.responses.create(model="gpt-test", input="what is served on Mondays?", stream=True,
                                        tools=[{"type": "file_search", "vector_store_ids": [store.id]}])
    events = [event async for event in stream]
    first_item = next(e for e in events if e.type == "response.output_item.done")
    assert first_item.item.type == "file_search_call" and first_item.output_index == 0
    final = events[-1].response
    assert [i.type for i in final.output] == ["file_search_call", "message"]
    (citation,) = final.output[1].content[0].annotations
    assert citation.filename == "menu.txt" and citation.index == len("Soup.")


async def test_stored_responses_past_the_retention_are_swept(sdk, platform):
    from datetime import timedelta

    from gateway_app.db.records import StoredResponseRecord, utcnow

    fresh = await sdk.responses.create(model="gpt-test", input="keep me")
    with platform.store.tenant("acme") as uow:
        uow.responses.add(StoredResponseRecord(id="resp_ancient", model="gpt-test", body={"id": "resp_ancient"},
                                               created_at=utcnow() - timedelta(days=31)))
        uow.commit()
    assert (await sdk.responses.retrieve("resp_ancient")).id == "resp_ancient"
    assert platform.responses.sweep() == 1, "RESPONSES_RETENTION_DAYS (30) has passed for one"
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve("resp_ancient")
    assert (await sdk.responses.retrieve(fresh.id)).output_text == "echo: keep me"
    assert platform.responses.sweep() == 0, "at most once an hour"
