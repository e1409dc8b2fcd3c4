"""Anthropic (Messages API translated both ways, streaming and tools) and Azure OpenAI."""

import json

from tests.api.conftest import sdk_for
from tests.support.api import configure_gateway

HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello claude"}]


async def test_anthropic_chat_stream_and_tools(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.root, provider_type="anthropic", api_key="sk-ant-test-9999",
                                    models=[{"name": "claude", "upstream_model": "claude-x"}])
    sdk = sdk_for(platform, setup["token"])
    try:
        completion = await sdk.chat.completions.create(model="claude", messages=HELLO, max_tokens=50, stop="END")
        assert completion.choices[0].message.content == "echo: hello claude"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage.prompt_tokens == 2 and completion.usage.completion_tokens == 3
        sent = upstream.calls("/v1/messages")[-1]
        assert sent.headers["x-api-key"] == "sk-ant-test-9999" and sent.headers["anthropic-version"]
        assert sent.body["system"] == "be brief" and sent.body["model"] == "claude-x"
        assert sent.body["max_tokens"] == 50 and sent.body["stop_sequences"] == ["END"]
        assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello claude"}]}]

        stream = await sdk.chat.completions.create(model="claude", messages=HELLO, stream=True,
                                                   stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text.strip() == "echo: hello claude"
        assert chunks[-1].usage.completion_tokens == 3
        assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)

        tools = [{"type": "function", "function": {"name": "weather", "description": "w",
                                                   "parameters": {"type": "object"}}}]
        answer = await sdk.chat.completions.create(model="claude", messages=HELLO, tools=tools, tool_choice="required")
        call = answer.choices[0].message.tool_calls[0]
        assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}
        assert answer.choices[0].finish_reason == "tool_calls"
        sent = upstream.calls("/v1/messages")[-1].body
        assert sent["tools"][0]["input_schema"] == {"type": "object"} and sent["tool_choice"] == {"type": "any"}
    finally:
        await sdk.close()


async def test_anthropic_tool_results_are_sent_back_as_tool_result_blocks(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.root, provider_type="anthropic", api_key="sk-ant-test-9999",
                                    models=[{"name": "claude", "upstream_model": "claude-x"}])
    sdk = sdk_for(platform, setup["token"])
    try:
        await sdk.chat.completions.create(model="claude", messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "cold"},
        ])
        messages = upstream.calls("/v1/messages")[-1].body["messages"]
        assert messages[1] == {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}]}
        assert messages[2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "cold"}
    finally:
        await sdk.close()


async def test_azure_deployment_url_key_header_and_version(admin, platform, upstream):
    setup = await configure_gateway(admin, upstream.root, provider_type="azure-openai", api_key="azure-key-4242",
                                    provider_fields={"api_version": "2024-10-21"},
                                    models=[{"name": "gpt-azure", "upstream_model": "my-deployment"}])
    sdk = sdk_for(platform, setup["token"])
    try:
        completion = await sdk.chat.completions.create(model="gpt-azure", messages=HELLO)
        assert completion.choices[0].message.content == "echo: hello claude"
        sent = upstream.calls("/openai/deployments/")[-1]
        assert sent.path == "/openai/deployments/my-deployment/chat/completions"
        assert sent.query == {"api-version": "2024-10-21"} and sent.headers["api-key"] == "azure-key-4242"
        assert "Authorization" not in sent.headers
    finally:
        await sdk.close()
