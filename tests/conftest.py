"""Shared fixtures: settings on a temporary DATA_DIR, a started platform, an API client, Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from api.app import create_api
from gateway_app.core.config import Settings, load_settings
from gateway_app.services.platform import Platform, start_platform, stop_platform
from tests.support.api import AdminApi
from tests.support.fake_upstream import FakeUpstream
from tests.support.processes import ChromaServer, MongoWireServer, RedisServer

ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "root-password-123"

# Tests must not pick up a developer's .env or shell settings.
for _name in list(os.environ):
    if _name in Settings.model_fields or _name.lower() in Settings.model_fields:
        del os.environ[_name]


def pytest_addoption(parser):
    parser.addoption("--db", choices=("sqlite", "mongodb"), default=os.environ.get("TEST_DB", "sqlite"),
                     help="DB_PROVIDER of the `settings` fixture (mongodb: the nx-27017 wire server)")


def pytest_runtest_setup(item):
    """Tests of SQLite itself have MongoDB counterparts elsewhere (tests/integration/test_mongodb_process.py)."""
    if item.get_closest_marker("sqlite_only") and item.config.getoption("--db") != "sqlite":
        pytest.skip("exercises SQLite itself")


@pytest.fixture
def db_settings(request) -> dict:
    """DB_PROVIDER and its settings for this run: SQLite files, or fresh databases (a prefix of their own)
    on the session's MongoDB wire server."""
    if request.config.getoption("--db") == "sqlite":
        return {}
    import secrets

    server = request.getfixturevalue("mongo_server")
    return {"db_provider": "mongodb", "mongodb_uri": server.uri, "mongodb_db_prefix": f"t{secrets.token_hex(4)}_"}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's sync API keeps an event loop running in this thread for
    the rest of the session, which async tests cannot share."""
    items.sort(key=lambda item: Path(str(item.fspath)).parent.name == "e2e")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh DATA_DIR per test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def allowed_upstreams(upstream_server) -> list[str]:
    """PROVIDER_ALLOWED_HOSTS for a test: exactly the fake upstream's port on loopback (modules may override)."""
    return [f"127.0.0.1:{upstream_server.port}"]


@pytest.fixture
def settings(data_dir: Path, allowed_upstreams: list[str], db_settings: dict) -> Settings:
    """Test settings: SQLite files under a temporary directory, memory cache, private upstreams refused
    except the allowed ones."""
    return load_settings(env="test", data_dir=data_dir, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD,
                         log_format="pretty", log_level="INFO", shutdown_grace_seconds=2,
                         allow_private_upstreams=False, provider_allowed_hosts=",".join(allowed_upstreams),
                         # In-process writers, so tests can break the store under them; the writer
                         # process has its own tests and is what the process tests (serve-api) run.
                         writer_process=False, **db_settings)


@pytest_asyncio.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """A started platform (migrated, first admin created), stopped after the test."""
    started = await start_platform(settings, install_signals=False)
    yield started
    await stop_platform(started)


@pytest_asyncio.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (ASGI transport, no network)."""
    app = create_api(platform)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gatehouse.test") as http:
        yield http


@pytest_asyncio.fixture
async def admin(client: httpx.AsyncClient) -> AdminApi:
    """The management API, logged in as the platform admin."""
    api = AdminApi(client)
    await api.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    return api


@pytest.fixture(scope="session")
def upstream_server():
    """The fake OpenAI-compatible upstream, one per session."""
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(upstream_server):
    """The fake upstream with a clean script for this test."""
    upstream_server.reset()
    yield upstream_server
    upstream_server.reset()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server for the whole session, stopped at the end."""
    server = RedisServer.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory):
    """A MongoDB wire-protocol server (nx-27017) for the whole session, stopped at the end."""
    server = MongoWireServer.start(tmp_path_factory.mktemp("mongo"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real Chroma server (`chroma run`) for the whole session, stopped at the end."""
    server = ChromaServer.start(tmp_path_factory.mktemp("chroma"))
    yield server
    server.stop()
