"""A real model: llama.cpp's OpenAI-compatible server with SmolLM2-135M, through serve-api,
with the official SDK (sync and async, streamed and not)."""

import httpx
import openai
import pytest

from tests.support.llm import LlamaServer
from tests.support.servers import GatewayProcess, admin_login, configure_over_http

pytestmark = pytest.mark.llm
ADMIN = {"email": "ops@example.com", "password": "real-model-pass-1"}
ASK = [{"role": "user", "content": "Say hello in one short sentence."}]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "llama.log")
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(llama, tmp_path_factory):
    base = tmp_path_factory.mktemp("gateway")
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1"], base / "data", base / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"],
                                              "PROVIDER_ALLOWED_HOSTS": f"127.0.0.1:{llama.port}"})
    process.wait_ready(timeout=60)
    with httpx.Client(base_url=process.url, timeout=30) as http:
        jwt = admin_login(http, ADMIN)
        token = configure_over_http(process.url, jwt, tenant="acme",
                                    provider={"name": "llama", "type": "openai-compatible", "base_url": llama.url,
                                              "options": {"timeout_s": 120}},
                                    models=[{"name": "smol", "upstream_model": "smollm2", "input_price_per_1k": 0.01,
                                             "output_price_per_1k": 0.02}], http=http)
        headers = {"Authorization": f"Bearer {jwt}", "X-Tenant-Id": "acme"}
        assert http.post("/admin/v1/providers/llama/test", headers=headers).json()["ok"]
    yield process, token, headers
    process.stop()


def test_sync_sdk_chat_and_stream(gateway):
    process, token, _ = gateway
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="smol", messages=ASK, temperature=0, max_tokens=24)
    assert reply.choices[0].message.content.strip()
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="smol", messages=ASK, temperature=0, max_tokens=24,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() and len([c for c in chunks if c.choices]) > 2


async def test_async_sdk_chat_and_stream(gateway):
    process, token, _ = gateway
    client = openai.AsyncOpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=120)
    try:
        reply = await client.chat.completions.create(model="smol", messages=ASK, temperature=0, max_tokens=16)
        assert reply.choices[0].message.content.strip()
        stream = await client.chat.completions.create(model="smol", messages=ASK, temperature=0, max_tokens=16,
                                                      stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text.strip()
    finally:
        await client.close()


def test_usage_of_real_calls_is_recorded(gateway):
    process, token, headers = gateway
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=120)
    client.chat.completions.create(model="smol", messages=ASK, temperature=0, max_tokens=8)
    import time

    deadline = time.monotonic() + 10
    rows = []
    while time.monotonic() < deadline:
        rows = httpx.get(process.url + "/admin/v1/usage", headers=headers, params={"group_by": "model"}).json()["rows"]
        if rows and rows[0]["requests"] >= 1:
            break
        time.sleep(0.3)
    assert rows and rows[0]["key"] == "smol" and rows[0]["completion_tokens"] > 0 and rows[0]["cost_usd"] > 0


def test_responses_and_messages_doors_on_the_real_model(gateway):
    import anthropic

    process, token, _ = gateway
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=token, max_retries=0, timeout=120)
    response = client.responses.create(model="smol", input="Say hello in one short sentence.", max_output_tokens=24,
                                       temperature=0)
    assert response.status in ("completed", "incomplete") and response.output_text.strip()
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    follow = client.responses.create(model="smol", input="Again, shorter.", previous_response_id=response.id,
                                     max_output_tokens=16, temperature=0)
    assert follow.output_text.strip()
    events = list(client.responses.create(model="smol", input="Name a colour.", max_output_tokens=16, stream=True))
    # Cut at max_output_tokens, a stream ends with response.incomplete (as OpenAI's), else response.completed.
    assert events[-1].type in ("response.completed", "response.incomplete")
    assert events[-1].response.output_text.strip()

    claude = anthropic.Anthropic(base_url=process.url, api_key=token, max_retries=0, timeout=120)
    message = claude.messages.create(model="smol", max_tokens=24,
                                     messages=[{"role": "user", "content": "Say hello in one short sentence."}])
    assert message.content[0].text.strip() and message.usage.output_tokens > 0
    with claude.messages.stream(model="smol", max_tokens=16,
                                messages=[{"role": "user", "content": "Name a colour."}]) as stream:
        text = "".join(stream.text_stream)
    assert text.strip()
