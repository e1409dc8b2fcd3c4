"""Tenants on the management API (platform admins)."""

from tests.support.api import AdminApi


async def test_create_get_list_update_tenant(admin, platform):
    created = await admin.create_tenant("acme", name="Acme Corp", plan="pro", features=["chat", "embeddings"],
                                        limits={"rpm": 100})
    assert created["slug"] == "acme" and created["status"] == "active"
    assert created["features"] == ["chat", "embeddings"] and created["limits"]["rpm"] == 100
    assert platform.store.tenant_store_exists("acme")

    await admin.create_tenant("globex")
    page = (await admin.call("GET", "/tenants", params={"search": "acm"}, expect=200)).json()
    assert page["total"] == 1 and page["items"][0]["name"] == "Acme Corp"
    assert (await admin.call("GET", "/tenants", expect=200)).json()["total"] == 2

    updated = (await admin.call("PATCH", "/tenants/acme", json={"status": "suspended",
                                                               "license_expires_at": "2031-01-01T00:00:00"},
                                expect=200)).json()
    assert updated["status"] == "suspended" and updated["license_expires_at"].startswith("2031-01-01T00:00:00")
    assert updated["features"] == ["chat", "embeddings"], "fields not sent stay as they were"
    got = (await admin.call("GET", "/tenants/acme", expect=200)).json()
    assert got["status"] == "suspended"


async def test_new_tenants_get_every_feature_by_default(admin):
    created = await admin.create_tenant("acme")
    assert "chat" in created["features"] and "tracing" in created["features"]


async def test_slugs_that_are_not_safe_names_are_refused(admin, data_dir):
    for slug in ("../x", "Acme", "a", "has space", "a" * 64, "-lead"):
        response = await admin.call("POST", "/tenants", json={"slug": slug, "name": "x"})
        assert response.status_code == 422, slug
        assert response.json()["errors"][0]["field"] == "slug"
    assert sorted(p.name for p in data_dir.glob("tenant_*")) == []
    assert (await admin.call("GET", "/tenants", expect=200)).json()["total"] == 0
    assert (await admin.call("GET", "/tenants/..%2Fx")).status_code == 404


async def test_duplicate_tenant_is_409_and_keeps_the_first(admin):
    await admin.create_tenant("acme", name="First")
    response = await admin.call("POST", "/tenants", json={"slug": "acme", "name": "Second"})
    assert response.status_code == 409 and response.json()["field"] == "slug"
    assert (await admin.call("GET", "/tenants/acme", expect=200)).json()["name"] == "First"


async def test_bad_license_fields_are_named(admin):
    response = await admin.call("POST", "/tenants", json={"slug": "acme", "name": "A", "features": ["teleport"]})
    assert response.status_code == 422 and response.json()["errors"][0]["field"].startswith("features")
    response = await admin.call("POST", "/tenants", json={"slug": "acme", "name": "A", "limits": {"rpm": -1}})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "limits.rpm"
    response = await admin.call("POST", "/tenants", json={"slug": "acme", "name": "A", "unknown": 1})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "unknown"
    assert (await admin.call("GET", "/tenants/acme")).status_code == 404, "nothing half-written"


async def test_delete_tenant_removes_database_users_and_tokens(admin, client, data_dir, platform):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "ops@acme.io")
    token = await admin.create_token("acme")
    await admin.call("DELETE", "/tenants/acme", expect=204)
    assert not (data_dir / "tenant_acme.sqlite").exists() and not platform.store.tenant_store_exists("acme")
    assert (await admin.call("GET", "/tenants/acme")).status_code == 404
    login = await client.post("/admin/v1/auth/login", json={"email": "ops@acme.io", "password": "password-123"})
    assert login.status_code == 401
    models = await client.get("/v1/models", headers={"Authorization": f"Bearer {token['token']}"})
    assert models.status_code == 401
    await admin.create_tenant("acme")  # the slug is free again, with an empty database
    assert (await admin.call("GET", "/users", tenant="acme", expect=200)).json() == []


async def test_only_platform_admins_manage_tenants(admin, client):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "boss@acme.io", role="admin")
    boss = AdminApi(client)
    await boss.login("boss@acme.io", "password-123")
    assert (await boss.call("GET", "/tenants")).status_code == 403
    assert (await boss.call("POST", "/tenants", json={"slug": "mine", "name": "Mine"})).status_code == 403
    assert (await boss.call("DELETE", "/tenants/acme")).status_code == 403
    assert (await boss.call("GET", "/tenants/acme")).status_code == 200, "a tenant may read its own license"


async def test_platform_admin_must_choose_a_tenant_for_tenant_data(admin):
    response = await admin.call("GET", "/users")
    assert response.status_code == 400 and response.json()["field"] == "X-Tenant-Id"
    assert (await admin.call("GET", "/users", tenant="nope")).status_code == 404
