"""Secrets: the image is production by default and will not start on the repository's development
secrets; a generated first-admin password reaches the terminal once and never the log stream."""

import json
import logging
import subprocess
import sys
from pathlib import Path

from gateway_app.core.config import load_settings
from gateway_app.services.platform import start_platform, stop_platform

ROOT = Path(__file__).resolve().parents[2]


def _dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_the_image_runs_in_production_and_refuses_to_start_on_development_secrets(tmp_path):
    env = _dockerfile_env()
    assert env.get("ENV") == "production"
    assert "JWT_SECRET" not in env and "ENCRYPTION_KEY" not in env  # never baked into the image
    # Run outside the checkout so no developer .env can supply secrets.
    run = subprocess.run([sys.executable, "-m", "gateway_app", "init"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ENV": env["ENV"],
                                          "DATA_DIR": str(tmp_path / "data")})
    assert run.returncode != 0
    assert "JWT_SECRET" in run.stderr + run.stdout
    assert not (tmp_path / "data").exists(), "nothing may be created before the configuration is valid"


async def test_generated_admin_password_is_printed_once_and_never_logged(tmp_path, capsys, caplog):
    settings = load_settings(env="test", data_dir=tmp_path, log_format="json", shutdown_grace_seconds=1)
    with caplog.at_level(logging.DEBUG):
        platform = await start_platform(settings, install_signals=False)
    await stop_platform(platform)
    password = platform.first_admin.generated_password
    assert password
    printed = capsys.readouterr()
    assert (printed.err + printed.out).count(password) == 1
    for record in caplog.records:
        assert password not in record.getMessage()
        assert password not in json.dumps(record.__dict__, default=str)
