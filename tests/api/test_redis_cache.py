"""The whole gateway with CACHE_PROVIDER=redis: a Redis outage degrades, never fails a request."""

import httpx
import pytest

from api.app import create_api
from gateway_app.core.config import load_settings
from gateway_app.services.platform import start_platform, stop_platform
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.api import AdminApi


@pytest.fixture
async def redis_client(redis_server, data_dir):
    settings = load_settings(env="test", data_dir=data_dir, cache_provider="redis", redis_url=redis_server.url,
                             admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    platform = await start_platform(settings, install_signals=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)),
                                 base_url="http://gatehouse.test") as http:
        yield http, platform
    await stop_platform(platform)


async def test_redis_outage_keeps_serving_and_revocation_still_applies(redis_client, redis_server):
    http, platform = redis_client
    assert platform.cache.name == "redis"
    admin = AdminApi(http)
    await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await http.get("/v1/models", headers=headers)).status_code == 200

    redis_server.pause()
    try:
        for _ in range(3):
            assert (await http.get("/v1/models", headers=headers)).status_code == 200
        ready = await http.get("/health/ready")
        assert ready.status_code == 200, "the cache is optional: degraded, still ready"
        assert ready.json()["checks"]["cache"]["status"] == "down"
        await admin.call("DELETE", f"/api-tokens/{token['id']}", tenant="acme", expect=200)
        assert (await http.get("/v1/models", headers=headers)).status_code == 401
    finally:
        redis_server.resume()
