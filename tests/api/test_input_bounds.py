"""Bounds on what clients put in URLs and bodies: out-of-range input is refused, never a 500."""

TOO_BIG = 2**63 + 5  # past SQLite's INTEGER
LIST_ROUTES = ["/tenants", "/users", "/projects", "/api-tokens", "/usage/requests", "/traces/sessions"]


async def test_list_offsets_are_bounded(admin):
    await admin.create_tenant("acme")
    for path in LIST_ROUTES:
        for offset in (TOO_BIG, 1_000_001, -1):
            response = await admin.call("GET", path, tenant="acme", params={"offset": offset})
            assert response.status_code == 422, f"{path}?offset={offset}: {response.status_code} {response.text}"
            body = response.json()
            assert body["errors"][0]["field"] == "offset" and "offset" in body["detail"]
        assert (await admin.call("GET", path, tenant="acme", params={"offset": 1_000_000})).status_code == 200


BOUNDED = [
    ("/api-tokens", {"limit": TOO_BIG}, "limit"),
    ("/guardrails/verdicts", {"limit": 501}, "limit"),
    ("/prompts/greeting/diff", {"from": TOO_BIG, "to": 1}, "from"),
    ("/prompts/greeting/diff", {"from": 1, "to": 1_000_001}, "to"),
    ("/api-tokens", {"project": "p" * 201}, "project"),
    ("/guardrails/verdicts", {"policy": "p" * 201}, "policy"),
    ("/usage/requests", {"model": "m" * 201}, "model"),
    ("/usage/requests", {"token_id": "t" * 201}, "token_id"),
    ("/traces/sessions", {"search": "%" * 201}, "search"),
    ("/traces/sessions", {"user": "u" * 201}, "user"),
    ("/traces/sessions", {"tag": "t" * 201}, "tag"),
    ("/traces/sessions", {"status": "weird"}, "status"),
    ("/traces/sessions", {"since": "0001-01-01T00:00:00Z"}, "since"),
    ("/usage", {"to": "0001-01-01T00:00:00Z"}, "to"),
    ("/usage", {"from": "9999-12-31T23:59:59-05:00"}, "from"),
    ("/models/" + "m" * 257, {}, "model"),
]


async def test_query_and_path_parameters_are_bounded(admin):
    await admin.create_tenant("acme")
    for path, params, field in BOUNDED:
        response = await admin.call("GET", path, tenant="acme", params=params)
        assert response.status_code == 422, f"{path} {params}: {response.status_code} {response.text}"
        assert response.json()["errors"][0]["field"] == field


async def test_in_range_values_still_work_and_bodies_are_bounded_too(admin):
    await admin.create_tenant("acme")
    response = await admin.call("GET", "/usage", tenant="acme", params={"from": "1970-01-02T00:00:00",
                                                                        "to": "2999-12-31T00:00:00Z"})
    assert response.status_code == 200, response.text
    response = await admin.call("GET", "/users", tenant="t" * 64)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "x-tenant-id"
    await admin.call("POST", "/prompts", tenant="acme", expect=201, json={
        "name": "greeting", "messages": [{"role": "user", "content": "hi"}]})
    response = await admin.call("PUT", "/prompts/greeting/labels/production", tenant="acme",
                                json={"version": TOO_BIG})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "version"


async def test_client_api_bounds_are_openai_400s(client, gateway):
    for path, param in (("/v1/files?purpose=" + "p" * 201, "purpose"), ("/v1/models/" + "m" * 257, "model_id"),
                        ("/v1/files/" + "f" * 257, "file_id")):
        response = await client.get(path, headers={"Authorization": f"Bearer {gateway['token']}"})
        assert response.status_code == 400, f"{path[:40]}: {response.status_code} {response.text}"
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and error["param"] == param
        assert error["type"] == "invalid_request_error"


async def test_configured_numbers_are_bounded(admin, gateway):
    big = 2**64
    prompt = {"messages": [{"role": "user", "content": "x"}]}
    cases = [
        ("POST", "/models", {"name": "m1", "provider": "fake", "upstream_model": "x", "rpm": big}, "rpm"),
        ("PATCH", "/models/gpt-test", {"tpm": big}, "tpm"),
        ("PATCH", "/models/gpt-test", {"input_price_per_1k": 1e308}, "input_price_per_1k"),
        ("POST", "/api-tokens", {"name": "t", "limits": {"monthly_budget_usd": 1e300}}, "limits.monthly_budget_usd"),
        ("POST", "/projects", {"name": "p", "limits": {"rpm": big}}, "limits.rpm"),
        ("PATCH", "/tenants/acme", {"limits": {"max_users": big}}, "limits.max_users"),
        ("POST", "/prompts", {"name": "p1", **prompt, "params": {"n": big}}, "params"),
        ("POST", "/prompts", {"name": "p2", **prompt, "variables": [{"name": "v", "default": [big]}]},
         "variables.0.default"),
    ]
    for method, path, body, field in cases:
        response = await admin.call(method, path, tenant="acme", json=body)
        assert response.status_code == 422, f"{method} {path} {body}: {response.status_code} {response.text}"
        assert response.json()["errors"][0]["field"] == field
