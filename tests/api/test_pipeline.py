"""Middleware pipeline: request ids, CORS on /v1, draining, health, error shapes, OpenAPI."""

import httpx

from api.app import create_api


async def test_request_id_is_created_echoed_or_replaced(client):
    created = await client.get("/health/live")
    first, second = created.headers["x-request-id"], (await client.get("/health/live")).headers["x-request-id"]
    assert len(first) == 20 and first != second, "a fresh, unique id per request"
    echoed = await client.get("/health/live", headers={"x-request-id": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    unsafe = await client.get("/health/live", headers={"x-request-id": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
    error = await client.get("/v1/models")
    assert error.status_code == 401 and "x-request-id" in error.headers


async def test_cors_preflight_on_client_routes_only(client):
    preflight = await client.options("/v1/chat/completions", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://app.example")
    simple = await client.get("/v1/models", headers={"Origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] in ("*", "https://app.example")
    admin = await client.get("/admin/v1/tenants", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in admin.headers


async def test_cors_origins_are_configurable(platform):
    platform.settings.cors_origins = "https://only.example"
    platform.settings.__dict__.pop("cors_origin_list", None)
    app = create_api(platform)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        allowed = await http.options("/v1/models", headers={"Origin": "https://only.example",
                                                            "Access-Control-Request-Method": "GET"})
        denied = await http.options("/v1/models", headers={"Origin": "https://evil.example",
                                                           "Access-Control-Request-Method": "GET"})
    assert allowed.headers["access-control-allow-origin"] == "https://only.example"
    assert denied.status_code == 400


async def test_draining_answers_503_with_retry_after(client, platform):
    platform.lifecycle.begin_draining("test")
    for path in ("/v1/models", "/admin/v1/tenants"):
        response = await client.get(path)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
    body = (await client.get("/v1/models")).json()
    assert body["error"]["code"] == "shutting_down"
    assert (await client.get("/health/live")).status_code == 200


async def test_readiness_reports_subsystems_and_fails_on_a_required_one(client, platform):
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "up"

    async def database_down():
        raise ConnectionError("disk gone")

    platform.health.register("database", database_down, required=True)
    down = await client.get("/health/ready")
    assert down.status_code == 503
    assert down.json()["checks"]["database"] == {**down.json()["checks"]["database"], "status": "down"}


async def test_readiness_while_draining_is_503(client, platform):
    platform.lifecycle.begin_draining("test")
    response = await client.get("/health/ready")
    assert response.status_code == 503


async def test_unknown_routes_answer_in_their_api_shape(client, admin):
    client_api = await client.get("/v1/nothing/here", headers={"Authorization": "Bearer x"})
    assert client_api.status_code == 401, "authentication comes before routing on /v1"
    admin_api = await admin.call("GET", "/nothing")
    assert admin_api.status_code == 404 and "detail" in admin_api.json()


async def test_unhandled_errors_are_500_in_shape_with_request_id(platform):
    app = create_api(platform)

    @app.get("/internal/boom")
    def boom():
        raise RuntimeError("kaput")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://t") as http:
        response = await http.get("/internal/boom", headers={"x-request-id": "r-500"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.headers["x-request-id"] == "r-500"
    assert "kaput" not in response.text


async def test_openapi_documents_every_route_and_the_bearer_scheme(client):
    spec = (await client.get("/openapi.json")).json()
    paths = set(spec["paths"])
    for path in ("/admin/v1/auth/login", "/admin/v1/tenants", "/admin/v1/tenants/{slug}", "/admin/v1/users",
                 "/admin/v1/users/{user_id}", "/admin/v1/projects", "/admin/v1/api-tokens",
                 "/admin/v1/api-tokens/{token_id}", "/v1/models", "/health/ready"):
        assert path in paths, path
    assert any(s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    create = spec["paths"]["/admin/v1/api-tokens"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("TokenCreated")
    assert (await client.get("/docs")).status_code == 200
