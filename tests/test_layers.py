"""The dependency direction of DESIGN.md, checked on the imports of every module.

core <- db <- services <- (api, state) <- components <- gateway_app.gateway_app
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package directory -> module prefixes it must not import
FORBIDDEN = {
    "gateway_app/core": ("gateway_app.db", "gateway_app.services", "gateway_app.providers", "api", "state",
                         "components", "fastapi", "starlette", "reflex", "gateway_app.gateway_app"),
    "gateway_app/db": ("gateway_app.services", "gateway_app.providers", "api", "state", "components", "fastapi",
                       "starlette", "reflex", "gateway_app.gateway_app"),
    "gateway_app/providers": ("gateway_app.db", "gateway_app.services", "api", "state", "components", "fastapi",
                              "starlette", "reflex"),
    "gateway_app/services": ("api", "state", "components", "fastapi", "starlette", "reflex",
                             "gateway_app.gateway_app"),
    "api": ("gateway_app.db", "state", "components", "reflex", "gateway_app.gateway_app"),
    "state": ("gateway_app.db", "api", "components", "fastapi", "starlette", "gateway_app.gateway_app"),
    "components": ("gateway_app.db", "api", "fastapi", "starlette", "gateway_app.gateway_app"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in imported_modules(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(root)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_rule(package):
    assert (ROOT / package).is_dir()
    assert _violations(package, FORBIDDEN[package]) == []


def test_the_checker_catches_a_violation(tmp_path):
    fake = tmp_path / "gateway_app" / "services"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from fastapi import Request\nimport api.deps\n")
    assert len(_violations("gateway_app/services", FORBIDDEN["gateway_app/services"], root=tmp_path)) == 2


def test_only_units_of_work_commit():
    offenders = []
    for path in sorted(ROOT.glob("gateway_app/**/*.py")):
        if "unit_of_work" in path.name:
            continue
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if "session.commit(" in line or "_session.commit(" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{line_no}")
    assert offenders == []
