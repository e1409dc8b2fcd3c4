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
