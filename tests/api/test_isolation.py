"""Tenant isolation: a user and a token of tenant A reach nothing of tenant B."""

from tests.support.api import AdminApi


async def test_tenant_a_cannot_reach_tenant_b(admin, client):
    await admin.create_tenant("alpha")
    await admin.create_tenant("beta")
    await admin.create_user("alpha", "boss@alpha.io", role="admin")
    b_user = await admin.create_user("beta", "boss@beta.io", role="admin")
    b_project = (await admin.call("POST", "/projects", tenant="beta", json={"name": "secret"}, expect=201)).json()
    b_token = await admin.create_token("beta", name="beta-app")
    a_token = await admin.create_token("alpha", name="alpha-app")

    alpha = AdminApi(client)
    await alpha.login("boss@alpha.io", "password-123")

    # Asking for tenant B explicitly is refused.
    for method, path, body in (("GET", "/users", None), ("GET", "/projects", None), ("GET", "/api-tokens", None),
                               ("POST", "/api-tokens", {"name": "x"}), ("POST", "/users", {"email": "x@x.io"}),
                               ("POST", "/projects", {"name": "x"})):
        response = await alpha.call(method, path, tenant="beta", json=body)
        assert response.status_code == 403, (method, path)

    # B's ids, looked up in A's own tenant, do not exist.
    assert (await alpha.call("GET", f"/users/{b_user['id']}")).status_code == 404
    assert (await alpha.call("PATCH", f"/users/{b_user['id']}", json={"role": "member"})).status_code == 404
    assert (await alpha.call("DELETE", f"/users/{b_user['id']}")).status_code == 404
    assert (await alpha.call("GET", f"/projects/{b_project['id']}")).status_code == 404
    assert (await alpha.call("DELETE", f"/projects/{b_project['id']}")).status_code == 404
    assert (await alpha.call("GET", f"/api-tokens/{b_token['id']}")).status_code == 404
    assert (await alpha.call("DELETE", f"/api-tokens/{b_token['id']}")).status_code == 404
    assert (await alpha.call("GET", "/tenants/beta")).status_code in (403, 404)

    # Lists only show A's data.
    assert [u["email"] for u in (await alpha.call("GET", "/users", expect=200)).json()] == ["boss@alpha.io"]
    assert [t["name"] for t in (await alpha.call("GET", "/api-tokens", expect=200)).json()] == ["alpha-app"]

    # B's token still works (nothing above touched it), and A's token resolves to A only.
    b_models = await client.get("/v1/models", headers={"Authorization": f"Bearer {b_token['token']}"})
    assert b_models.status_code == 200 and b_models.headers["x-tenant-id"] == "beta"
    a_models = await client.get("/v1/models", headers={"Authorization": f"Bearer {a_token['token']}"})
    assert a_models.headers["x-tenant-id"] == "alpha"
    a_on_b_model = await client.get("/v1/models/beta-only-model",
                                    headers={"Authorization": f"Bearer {a_token['token']}"})
    assert a_on_b_model.status_code == 404 and a_on_b_model.json()["error"]["code"] == "model_not_found"
