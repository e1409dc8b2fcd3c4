"""Anthropic's Messages API (/v1/messages) with the official `anthropic` SDK, for an OpenAI-compatible model."""

import anthropic
import httpx2
import pytest

from api.app import create_api
from tests.support.api import configure_gateway
from tests.support.fake_upstream import Behaviour

WEATHER = {"name": "weather", "description": "The weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def claude_for(platform, token: str) -> anthropic.AsyncAnthropic:
    """The official SDK talking to the app in-process, with the gateway token as x-api-key."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_api(platform)), base_url="http://gatehouse.test")
    return anthropic.AsyncAnthropic(base_url="http://gatehouse.test", api_key=token, http_client=http, max_retries=0)


@pytest.fixture
async def claude(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, provider_fields={"options": {"max_retries": 0}})
    client = claude_for(platform, setup["token"])
    client.setup = setup
    yield client
    await client.close()


async def test_a_message_is_answered_by_an_openai_compatible_model(claude, platform, upstream):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    raw = await claude.messages.with_raw_response.create(
        model="gpt-test", max_tokens=64, system="You are terse.", stop_sequences=["END"],
        messages=[{"role": "user", "content": "hello there"}], metadata={"user_id": "ann"},
        output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "low"},
        thinking={"type": "enabled", "budget_tokens": 1024}, extra_body={"temperature": 0.2},
        extra_headers={"anthropic-beta": "some-future-beta-2099-01-01"})
    assert raw.headers["x-gatehouse-ignored"] == "thinking,output_config.effort", "hints are named, not hidden"
    message = await raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.model == "gpt-test"
    assert [b.type for b in message.content] == ["text"] and message.content[0].text == "echo: hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 3), "the upstream's own counts"
    sent = upstream.calls("/chat/completions")[-1].body
    assert sent["messages"] == [{"role": "system", "content": "You are terse."},
                                {"role": "user", "content": "hello there"}]
    assert (sent["max_tokens"], sent["temperature"], sent["stop"], sent["user"]) == (64, 0.2, ["END"], "ann")
    assert sent["response_format"]["json_schema"]["schema"] == schema
    platform.usage_recorder.writer.flush()
    with platform.store.tenant("acme") as uow:
        (row,) = uow.usage.recent(model="gpt-test")
    assert (row.prompt_tokens, row.completion_tokens, row.status, row.kind) == (5, 3, 200, "chat")


async def test_a_streamed_message_has_anthropics_event_sequence_and_final_usage(claude, upstream):
    upstream.script(Behaviour(content="one two three four five", chunks=3))
    async with claude.messages.stream(model="gpt-test", max_tokens=64,
                                      messages=[{"role": "user", "content": "count"}]) as stream:
        kinds = []
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    assert final.content[0].text == "one two three four five"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 3
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds and "message_delta" in kinds
    assert kinds.count("text") == 3, "one text delta per upstream chunk"


async def test_tool_use_round_trip_plain_and_streamed(claude, upstream):
    ask = [{"role": "user", "content": "weather in Paris?"}]
    first = await claude.messages.create(model="gpt-test", max_tokens=64, tools=[WEATHER],
                                         tool_choice={"type": "any"}, messages=ask)
    assert first.stop_reason == "tool_use"
    (call,) = first.content
    assert (call.type, call.name, call.input) == ("tool_use", "weather", {"city": "Paris"})
    sent = upstream.calls("/chat/completions")[-1].body
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"] and sent["tool_choice"] == "required"

    second = await claude.messages.create(model="gpt-test", max_tokens=64, tools=[WEATHER], messages=[
        *ask, {"role": "assistant", "content": [c.model_dump() for c in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C, sunny"}]}])
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    sent = upstream.calls("/chat/completions")[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"city":"Paris"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"}

    async with claude.messages.stream(model="gpt-test", max_tokens=64, tools=[WEATHER], messages=ask) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in final.content] == [("tool_use", "weather", {"city": "Paris"})]


async def test_errors_have_anthropics_shape_and_status(claude, platform, upstream):
    with pytest.raises(anthropic.BadRequestError) as bad:
        await claude.messages.create(model="gpt-test", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["type"] == "error" and bad.value.body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in bad.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError, match="server tool"):
        await claude.messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "x"}],
                                     tools=[{"type": "web_search_20250305", "name": "web_search"}])
    with pytest.raises(anthropic.NotFoundError) as missing:
        await claude.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["error"]["type"] == "not_found_error"
    wrong = claude_for(platform, "gh-not-a-real-token")
    try:
        with pytest.raises(anthropic.AuthenticationError) as denied:
            await wrong.messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    finally:
        await wrong.close()
    assert denied.value.body["error"]["type"] == "authentication_error"
    upstream.script(Behaviour(status=500))
    with pytest.raises(anthropic.APIStatusError) as failed:
        await claude.messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502 and failed.value.body["type"] == "error"


async def test_count_tokens_estimates_and_checks_the_model(claude):
    short = await claude.messages.count_tokens(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    long = await claude.messages.count_tokens(model="gpt-test", system="x" * 400, tools=[WEATHER],
                                              messages=[{"role": "user", "content": "hi " * 200}])
    assert 0 < short.input_tokens < 10 and long.input_tokens > 200
    with pytest.raises(anthropic.NotFoundError):
        await claude.messages.count_tokens(model="no-such-model", messages=[{"role": "user", "content": "hi"}])


async def test_guardrails_and_quotas_apply_on_this_door_too(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.url, token_fields={"limits": {"rpm": 1}})
    await admin.call("POST", "/guardrails", tenant="acme", expect=201, json={
        "name": "no-secrets", "rules": [{"type": "keyword", "keywords": ["project zeus"], "action": "block",
                                         "direction": "input"}]})
    await admin.call("PATCH", "/models/gpt-test", tenant="acme", json={"guardrails": ["no-secrets"]}, expect=200)
    claude = claude_for(platform, setup["token"])
    try:
        with pytest.raises(anthropic.BadRequestError) as blocked:
            await claude.messages.create(model="gpt-test", max_tokens=8,
                                         messages=[{"role": "user", "content": "tell me about Project Zeus"}])
        assert blocked.value.body["error"]["type"] == "invalid_request_error"
        assert not upstream.calls("/chat/completions"), "a blocked request never reaches the provider"
        await claude.messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(anthropic.RateLimitError) as limited:
            await claude.messages.create(model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        assert limited.value.body["error"]["type"] == "rate_limit_error"
        assert limited.value.response.headers.get("retry-after")
    finally:
        await claude.close()


async def test_image_blocks_reach_the_model_as_image_parts(claude, upstream):
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    await claude.messages.create(model="gpt-test", max_tokens=16, messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": pixel}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}])
    (user,) = upstream.calls("/chat/completions")[-1].body["messages"]
    assert user["content"] == [{"type": "text", "text": "what is this?"},
                               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}},
                               {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]
    with pytest.raises(anthropic.BadRequestError, match="document"):
        await claude.messages.create(model="gpt-test", max_tokens=16, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}])
