"""The command line: migrate, init, tenant/user/token verbs, and config errors naming the variable."""

import json
import os
import subprocess
import sys

from tests.support.servers import ROOT


def run(data_dir, *args, env_extra=None):
    env = {**os.environ, "DATA_DIR": str(data_dir), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "gateway_app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_init_prints_a_generated_admin_once(tmp_path):
    first = run(tmp_path, "init")
    assert first.returncode == 0 and "password:" in first.stdout
    second = run(tmp_path, "init")
    assert second.returncode == 0 and "password:" not in second.stdout


def test_tenant_user_token_verbs(tmp_path):
    assert run(tmp_path, "migrate").returncode == 0
    created = run(tmp_path, "tenant", "create", "acme", "--name", "Acme")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["slug"] == "acme"
    assert (tmp_path / "tenant_acme.sqlite").exists()
    user = run(tmp_path, "user", "create", "--tenant", "acme", "--email", "ops@acme.io", "--role", "admin")
    assert user.returncode == 0 and json.loads(user.stdout)["generated_password"]
    token = run(tmp_path, "token", "create", "--tenant", "acme", "--name", "svc")
    assert json.loads(token.stdout)["token"].startswith("gh-")
    listed = json.loads(run(tmp_path, "token", "list", "--tenant", "acme").stdout)
    assert [t["name"] for t in listed] == ["svc"] and "token" not in listed[0]
    bad = run(tmp_path, "tenant", "create", "../x")
    assert bad.returncode == 1 and bad.stderr.startswith("error: slug:") and "Traceback" not in bad.stderr


def test_bad_configuration_stops_with_the_variable_named(tmp_path):
    result = run(tmp_path, "migrate", env_extra={"CACHE_PROVIDER": "memcached"})
    assert result.returncode == 2
    assert "CACHE_PROVIDER" in result.stderr and "memcached" in result.stderr


def test_rotate_keys_re_encrypts_provider_keys(tmp_path):
    from gateway_app.core.crypto import SecretBox, generate_key
    from gateway_app.db.sqlite.store import SqliteStore

    old, new = generate_key(), generate_key()
    assert run(tmp_path, "tenant", "create", "acme", env_extra={"ENCRYPTION_KEY": old}).returncode == 0
    import subprocess as sp

    code = ("from gateway_app.cli import _platform, CLI_ACTOR\n"
            "from gateway_app.services.providers import ProviderCreate\n"
            "p = _platform()\n"
            "p.providers.create(CLI_ACTOR, 'acme', ProviderCreate(name='x', type='openai', "
            "base_url='https://api.example.com/v1', api_key='sk-rotate-me-1234'))\n")
    sp.run([sys.executable, "-c", code], cwd=ROOT, check=True,
           env={**os.environ, "DATA_DIR": str(tmp_path), "ENCRYPTION_KEY": old})
    result = run(tmp_path, "rotate-keys", env_extra={"ENCRYPTION_KEY": f"{new},{old}"})
    assert result.returncode == 0 and "re-encrypted 1" in result.stdout
    store = SqliteStore(tmp_path)
    with store.tenant("acme") as uow:
        stored = uow.providers.get_by_name("x").api_key_enc
    store.close()
    assert SecretBox(new).decrypt(stored) == "sk-rotate-me-1234", "readable with the new key alone"


def test_mongodb_backend_migrates_creates_tenants_and_names_an_unreachable_uri(tmp_path, mongo_server):
    env = {"DB_PROVIDER": "mongodb", "MONGODB_URI": mongo_server.uri, "MONGODB_DB_PREFIX": "cli_"}
    assert run(tmp_path, "migrate", env_extra=env).returncode == 0
    created = run(tmp_path, "tenant", "create", "acme", "--name", "Acme", env_extra=env)
    assert created.returncode == 0, created.stderr
    token = run(tmp_path, "token", "create", "--tenant", "acme", "--name", "svc", env_extra=env)
    assert json.loads(token.stdout)["token"].startswith("gh-"), token.stderr
    assert [t["name"] for t in json.loads(run(tmp_path, "token", "list", "--tenant", "acme", env_extra=env).stdout)] \
        == ["svc"]
    assert not (tmp_path / "tenant_acme.sqlite").exists()  # it went to MongoDB
    down = run(tmp_path, "migrate", env_extra={**env, "MONGODB_URI": "mongodb://127.0.0.1:1", "MONGODB_TIMEOUT_MS": "300"})
    assert down.returncode == 1 and down.stderr.startswith("error: MONGODB_URI") and "Traceback" not in down.stderr
