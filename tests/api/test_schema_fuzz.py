"""Schema fuzzing: schemathesis runs the app's own /openapi.json against the app, in-process.

Every operation, both faces: no 5xx, and every response (status, content type, body) as the
published schema says. About 4,600 requests; the run is derandomised, so a failure reproduces.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from schemathesis.python import asgi

from api.app import create_api
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

TENANT = "fuzz"
SPARE = "fuzz-spare"  # what a case deleting or suspending the run's own tenant hits instead
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance", "content_type_conformance")
MIN_SUCCESSES = {"/v1": 50, "/admin": 200}
CONFIG = {
    "seed": 20261201,
    "suppress-health-check": ["all"],  # health checks time the generation: load on the machine must not fail a run
    "generation": {"mode": "all", "max-examples": 8, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
}


def _setup(http, upstream_url: str) -> dict:
    """The platform admin's JWT; tenants with a provider on the fake upstream, models and a client token."""
    def ok(response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    jwt = ok(http.post("/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
    admin = {"Authorization": f"Bearer {jwt['access_token']}", "X-Tenant-Id": TENANT}
    for slug in (TENANT, SPARE):
        ok(http.post("/admin/v1/tenants", headers=admin, json={"slug": slug, "name": slug.title()}), 201)
    ok(http.post("/admin/v1/providers", headers=admin, json={
        "name": "fake", "type": "openai-compatible", "base_url": upstream_url, "api_key": "sk-fuzz-0001"}), 201)
    for model in ({"name": "gpt-test", "upstream_model": "fake-chat"},
                  {"name": "embed-test", "upstream_model": "fake-embed", "kind": "embedding"}):
        ok(http.post("/admin/v1/models", headers=admin, json={"provider": "fake", **model}), 201)
    token, spare = (ok(http.post("/admin/v1/api-tokens", headers=admin, json={"name": name}), 201)
                    for name in ("fuzz", "spare"))
    ok(http.post("/admin/v1/prompts", headers=admin, json={
        "name": "greeting", "messages": [{"role": "user", "content": "Hello {{ name }}"}]}), 201)
    ok(http.post("/admin/v1/guardrails", headers=admin, json={
        "name": "no-secrets", "rules": [{"type": "keyword", "keywords": ["secret"], "action": "mask"}]}), 201)
    # Logout ends every session of its user: cases of it run as a user of their own, not as the admin.
    ok(http.post("/admin/v1/users", headers=admin, json={"email": "leaver@fuzz.io", "password": "leaver-pass-1",
                                                          "role": "member"}), 201)
    leaver = ok(http.post("/admin/v1/auth/login", json={"email": "leaver@fuzz.io", "password": "leaver-pass-1"}))
    return {"admin": admin, "client": {"Authorization": f"Bearer {token['token']}"}, "token_id": token["id"],
            "spare_token_id": spare["id"], "leaver": {"Authorization": f"Bearer {leaver['access_token']}"}}


@pytest.fixture
def fuzz_app(settings, upstream):
    """The app running its own lifespan in schemathesis's event-loop thread (where every case is served)."""
    app = create_api(settings=settings.model_copy(update={"log_level": "WARNING"}))
    with asgi.get_client(app) as http:  # starts the lifespan: the platform lives in that loop
        http.trust_env = False  # no proxy look-up in os.environ per case
        credentials = _setup(http, upstream.url)
        answered: Counter = Counter()
        yield app, {**credentials, "session": http, "answered": answered}
    asgi.shutdown_lifespans()
    # The run proves something only if each face's credentials worked and cases reached real code.
    for face in {key.split()[0] for key in answered}:
        assert answered[f"{face} 2xx"] > MIN_SUCCESSES[face], answered


@pytest.fixture
def fuzz_schema(fuzz_app):
    """The schema the app publishes, fetched from the app."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app[0], config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def credentials(fuzz_app):
    """Headers per face, and the ids the run must keep."""
    return fuzz_app[1]


@pytest.fixture(autouse=True)
def _pytest_node_id(request):
    # schemathesis 4.32's lazy loader reads `node._nodeid`, which pytest 9.2 no longer sets.
    request.node._nodeid = request.node.nodeid


def _spare_the_fixtures(case, credentials: dict) -> None:
    """Point a case that would delete or suspend the run's tenant, or revoke its token, at spare ones."""
    # Schemathesis reuses values it saw in responses, so it does find them; every later case
    # would then be a 401 or a 404 and reach no real code.
    params = case.path_parameters or {}
    if case.operation.path == "/admin/v1/tenants/{slug}" and params.get("slug") == TENANT:
        params["slug"] = SPARE
    if case.operation.path == "/admin/v1/api-tokens/{token_id}" and params.get("token_id") == credentials["token_id"]:
        params["token_id"] = credentials["spare_token_id"]


schema = schemathesis.pytest.from_fixture("fuzz_schema")


def _run_case(case, credentials) -> None:
    """Call one generated case with its face's credentials and validate the answer."""
    _spare_the_fixtures(case, credentials)
    face = "/v1" if case.path.startswith("/v1") else "/admin"
    headers = credentials["client"] if face == "/v1" else credentials["admin"]
    if case.operation.path == "/admin/v1/auth/logout":
        headers = credentials["leaver"]
    response = case.call_and_validate(session=credentials["session"], headers=headers)
    credentials["answered"][f"{face} {response.status_code // 100}xx"] += 1


# One test per face: each stays well inside the per-test timeout on a loaded CI machine.
@pytest.mark.timeout(600)
@schema.include(path_regex="^/v1/").parametrize()
def test_every_client_operation_conforms_to_its_schema(case, credentials):
    _run_case(case, credentials)


@pytest.mark.timeout(600)
@schema.exclude(path_regex="^/v1/").parametrize()
def test_every_management_operation_conforms_to_its_schema(case, credentials):
    _run_case(case, credentials)
