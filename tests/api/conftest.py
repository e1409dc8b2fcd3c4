"""Fixtures for client-API tests: a configured tenant and the official openai SDK on the ASGI app."""

import httpx
import openai
import pytest

from api.app import create_api
from tests.support.api import configure_gateway


@pytest.fixture
async def gateway(admin, upstream):
    """Tenant 'acme' with provider 'fake' (the fake upstream), models gpt-test / embed-test and a token."""
    return await configure_gateway(admin, upstream.url)


def sdk_for(platform, token: str) -> openai.AsyncOpenAI:
    """The official async SDK talking to the app in-process (no retries of its own)."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)), base_url="http://gatehouse.test")
    return openai.AsyncOpenAI(base_url="http://gatehouse.test/v1", api_key=token, http_client=http, max_retries=0)


@pytest.fixture
async def sdk(platform, gateway):
    """AsyncOpenAI with the gateway's token."""
    client = sdk_for(platform, gateway["token"])
    yield client
    await client.close()
