"""Both SDKs unchanged against the real `serve-api` process: only the base URL and the key differ."""

import anthropic
import openai
import pytest

from tests.support.fake_upstream import Behaviour
from tests.support.servers import GatewayProcess, configure_over_http

ADMIN = {"email": "ops@example.com", "password": "front-door-pass-1"}
WEATHER = {"type": "function", "name": "weather", "parameters": {"type": "object",
                                                                 "properties": {"city": {"type": "string"}}}}


@pytest.fixture
def served(tmp_path, upstream):
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "2"], tmp_path / "data",
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{upstream.port}"})
    process.wait_ready(timeout=60)
    token = configure_over_http(process.url, ADMIN, tenant="acme", provider={
        "name": "fake", "type": "openai-compatible", "base_url": upstream.url, "api_key": "sk-fake-1234"},
        models=[{"name": "gpt-test", "upstream_model": "fake-chat"}])
    yield process, token
    process.stop()


def test_the_openai_sdk_responses_chain_across_two_workers(served, upstream):
    process, token = served
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0)
    first = client.responses.create(model="gpt-test", input="weather in Paris?", tools=[WEATHER])
    call = first.output[0]
    assert call.type == "function_call" and call.arguments == '{"city": "Paris"}'
    # Each turn may land on either worker: the conversation is in the tenant's database, not a process.
    previous = first.id
    for turn in range(4):
        answer = client.responses.create(model="gpt-test", previous_response_id=previous, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}] if turn == 0 else "more")
        assert answer.output_text.startswith("echo")
        previous = answer.id
    assert len(upstream.calls("/chat/completions")[-1].body["messages"]) == 3 + 2 * 3
    upstream.script(Behaviour(content="a b c d", chunks=2))
    with client.responses.stream(model="gpt-test", input="go") as stream:
        final = stream.get_final_response()
    assert final.output_text == "a b c d"
    assert client.responses.retrieve(final.id).output_text == "a b c d"


def test_the_anthropic_sdk_messages_and_stream(served, upstream):
    process, token = served
    claude = anthropic.Anthropic(base_url=process.url, api_key=token, max_retries=0)
    message = claude.messages.create(model="gpt-test", max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "echo: hi" and message.usage.output_tokens == 2
    upstream.script(Behaviour(content="one two three", chunks=3))
    with claude.messages.stream(model="gpt-test", max_tokens=32,
                                messages=[{"role": "user", "content": "count"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three" and final.stop_reason == "end_turn"
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=process.url, api_key="wrong", max_retries=0).messages.create(
            model="gpt-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
