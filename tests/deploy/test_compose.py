"""docker-compose.yml: the full local stack (two API servers, the console, MongoDB, Redis, Chroma).

No container engine runs here, so the file is parsed (PyYAML, anchors and merge keys resolved as
Compose resolves them) and checked for what makes the stack one deployment: every gateway
container on the same MongoDB, Redis and Chroma, with setting names the gateway reads.
"""

from __future__ import annotations

import re
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.deploy.support import ROOT, SETTINGS_NAMES, settings_from_env

COMPOSE = ROOT / "docker-compose.yml"
GATEWAY = ("migrate", "api-1", "api-2", "console")
SERVERS = ("api-1", "api-2", "console")
SHARED = ("DB_PROVIDER", "MONGODB_URI", "CACHE_PROVIDER", "REDIS_URL", "VECTOR_PROVIDER", "CHROMA_URL",
          "DATA_DIR", "JWT_SECRET", "ENCRYPTION_KEY")
# What a user exports before `docker compose up` (the file refuses to start without the first two).
EXPORTED = {"JWT_SECRET": "compose-test-jwt-secret-0123456789abcdef", "ENCRYPTION_KEY": Fernet.generate_key().decode()}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the KEY=value form
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def interpolate(value: str, exported: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} with `exported` as the shell."""
    def one(match: re.Match) -> str:
        name, op, arg = match.group("name", "op", "arg")
        if name in exported:
            return exported[name]
        if op == "-":
            return arg
        raise AssertionError(f"{name} is not set: compose would stop with {arg!r}")
    return INTERPOLATION.sub(one, value)


def test_the_stack_has_every_piece(services):
    assert set(services) == {*GATEWAY, "mongo", "redis", "chroma"}
    assert services["mongo"]["image"] == "mongo:7"
    assert services["redis"]["image"].startswith("redis:7")
    assert services["chroma"]["image"].startswith("chromadb/chroma:")
    for name in GATEWAY:
        assert services[name]["build"] == "."
        assert services[name]["image"] == "gatehouse:local"


def test_two_api_servers_and_the_console(services):
    for name in ("api-1", "api-2"):
        command = services[name]["command"]
        assert command[:4] == ["python", "-m", "gateway_app", "serve-api"]
        assert command[command.index("--host") + 1] == "0.0.0.0"
        assert command[command.index("--port") + 1] == "8080"
    assert "python -m gateway_app serve --host 0.0.0.0 --port 3000" in services["console"]["command"][-1]
    assert services["migrate"]["command"] == ["python", "-m", "gateway_app", "init"]
    published = [port for name in SERVERS for port in services[name]["ports"]]
    assert len(set(published)) == len(published) == 3
    assert all(port.startswith("127.0.0.1:") for port in published)
    for name in ("mongo", "redis", "chroma"):  # internal only
        assert "ports" not in services[name]


def test_both_api_servers_and_the_console_share_mongodb_redis_and_chroma(services):
    envs = {name: environment(services[name]) for name in GATEWAY}
    for key in SHARED:
        assert len({env[key] for env in envs.values()}) == 1, f"{key} differs between gateway containers"
    env = envs["api-1"]
    assert env["DB_PROVIDER"] == "mongodb"
    assert env["CACHE_PROVIDER"] == "redis"
    assert env["VECTOR_PROVIDER"] == "chroma-server"
    # Each address names the compose service that runs that server, on its default port.
    for key, service, port in (("MONGODB_URI", "mongo", 27017), ("REDIS_URL", "redis", 6379),
                               ("CHROMA_URL", "chroma", 8000)):
        address = urlsplit(env[key])
        assert (address.hostname, address.port) == (service, port), key
    # DATA_DIR (uploaded files, spilled batches) is one volume mounted by every gateway container.
    mounts = {name: services[name]["volumes"] for name in GATEWAY}
    assert all(m == [f"gatehouse-data:{env['DATA_DIR']}"] for m in mounts.values()), mounts


def test_mongodb_runs_as_the_replica_set_the_uri_names(services):
    command = services["mongo"]["command"]
    replica_set = command[command.index("--replSet") + 1]
    uri = environment(services["api-1"])["MONGODB_URI"]
    assert f"replicaSet={replica_set}" in urlsplit(uri).query
    check = services["mongo"]["healthcheck"]["test"][-1]
    assert f"_id: '{replica_set}'" in check and "isWritablePrimary" in check


def test_every_variable_name_is_a_gateway_setting(services):
    for name in GATEWAY:
        unknown = set(environment(services[name])) - SETTINGS_NAMES
        assert not unknown, f"{name}: {sorted(unknown)} are not Settings (a typo is ignored silently)"


def test_the_gateway_accepts_the_environment(services):
    for name in GATEWAY:
        env = {key: interpolate(value, EXPORTED) for key, value in environment(services[name]).items()}
        settings = settings_from_env(env)
        assert settings.env == "production"
        assert settings.jwt_secret == EXPORTED["JWT_SECRET"]


def test_the_secrets_must_be_exported(services):
    env = environment(services["api-1"])
    for key in ("JWT_SECRET", "ENCRYPTION_KEY"):
        match = INTERPOLATION.fullmatch(env[key])
        assert match and match["name"] == key and match["op"] == "?", f"{key} must be ${{{key}:?...}}"
        with pytest.raises(AssertionError, match=f"{key} is not set"):
            interpolate(env[key], {})


def test_every_service_has_a_healthcheck_and_servers_wait_for_theirs(services):
    for name, service in services.items():
        if name == "migrate":  # one-shot: the servers wait for it to complete
            assert service["restart"] == "no"
            continue
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["interval"] and check["retries"]
    for name in ("api-1", "api-2"):
        assert "127.0.0.1:8080/health/ready" in services[name]["healthcheck"]["test"][-1]
    assert "127.0.0.1:3000/health/ready" in services["console"]["healthcheck"]["test"][-1]
    assert "/api/v2/heartbeat" in services["chroma"]["healthcheck"]["test"][-1]
    for name in GATEWAY:
        depends = services[name]["depends_on"]
        for backing in ("mongo", "redis", "chroma"):
            assert depends[backing] == {"condition": "service_healthy"}
    for name in SERVERS:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_stop_grace_period_outlasts_shutdown_grace_seconds(services):
    for name in SERVERS:
        service = services[name]
        grace = float(environment(service)["SHUTDOWN_GRACE_SECONDS"])
        stop = re.fullmatch(r"(\d+)s", service["stop_grace_period"])
        assert stop and int(stop[1]) > grace + 5, "compose's default stop timeout (10 s) would cut the drain"


def test_the_chroma_server_is_the_version_of_the_client(services):
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [client] = [pin.split("==")[1] for pin in pins if pin.startswith("chromadb==")]
    assert services["chroma"]["image"] == f"chromadb/chroma:{client}"
    assert "chroma-data:/data" in services["chroma"]["volumes"]  # the image's persist_path


def test_named_volumes_are_declared(compose, services):
    used = {mount.split(":")[0] for service in services.values() for mount in service.get("volumes", [])}
    assert used == set(compose["volumes"])
