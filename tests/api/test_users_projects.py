"""Users and projects of a tenant on the management API."""

from tests.support.api import AdminApi


async def test_create_user_with_generated_password_shown_once(admin, client):
    await admin.create_tenant("acme")
    response = await admin.call("POST", "/users", tenant="acme", json={"email": "New@Acme.io", "role": "admin"},
                                expect=201)
    body = response.json()
    assert body["email"] == "new@acme.io" and body["generated_password"]
    assert "password_hash" not in body
    listed = (await admin.call("GET", "/users", tenant="acme", expect=200)).json()
    assert listed[0]["email"] == "new@acme.io" and "generated_password" not in listed[0]
    user = AdminApi(client)
    await user.login("new@acme.io", body["generated_password"])


async def test_user_input_is_validated(admin):
    await admin.create_tenant("acme")
    for body, field in (({"email": "not-an-email"}, "email"), ({"email": "a@b.io", "role": "owner"}, "role"),
                        ({"email": "a@b.io", "password": "short"}, "password")):
        response = await admin.call("POST", "/users", tenant="acme", json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_emails_are_unique_across_the_platform(admin):
    await admin.create_tenant("acme")
    await admin.create_tenant("globex")
    await admin.create_user("acme", "same@x.io")
    response = await admin.call("POST", "/users", tenant="globex", json={"email": "same@x.io"})
    assert response.status_code == 409 and response.json()["field"] == "email"
    assert (await admin.call("GET", "/users", tenant="globex", expect=200)).json() == []
    clash = await admin.call("POST", "/users", tenant="acme", json={"email": "root@example.com"})
    assert clash.status_code == 409, "a tenant user cannot take a platform admin's e-mail"


async def test_change_role_password_and_delete_user(admin, client):
    await admin.create_tenant("acme")
    created = await admin.create_user("acme", "dev@acme.io", role="member")
    changed = await admin.call("PATCH", f"/users/{created['id']}", tenant="acme",
                               json={"role": "admin", "password": "new-password-1"}, expect=200)
    assert changed.json()["role"] == "admin"
    await AdminApi(client).login("dev@acme.io", "new-password-1")
    await admin.call("DELETE", f"/users/{created['id']}", tenant="acme", expect=204)
    assert (await admin.call("GET", f"/users/{created['id']}", tenant="acme")).status_code == 404
    login = await client.post("/admin/v1/auth/login", json={"email": "dev@acme.io", "password": "new-password-1"})
    assert login.status_code == 401
    await admin.create_user("acme", "dev@acme.io")  # the e-mail is free again


async def test_admins_cannot_lock_themselves_out(admin, client):
    await admin.create_tenant("acme")
    created = await admin.create_user("acme", "boss@acme.io", role="admin")
    boss = AdminApi(client)
    await boss.login("boss@acme.io", "password-123")
    assert (await boss.call("PATCH", f"/users/{created['id']}", json={"role": "member"})).status_code == 409
    assert (await boss.call("DELETE", f"/users/{created['id']}")).status_code == 409


async def test_license_limits_the_number_of_users(admin):
    await admin.create_tenant("acme", limits={"max_users": 1})
    await admin.create_user("acme", "one@acme.io")
    response = await admin.call("POST", "/users", tenant="acme", json={"email": "two@acme.io"})
    assert response.status_code == 409 and "1 users" in response.json()["detail"]


async def test_projects_crud_and_unique_names(admin):
    await admin.create_tenant("acme")
    created = (await admin.call("POST", "/projects", tenant="acme", json={"name": "web", "description": "site"},
                                expect=201)).json()
    assert (await admin.call("POST", "/projects", tenant="acme", json={"name": "web"})).status_code == 409
    assert (await admin.call("GET", "/projects/web", tenant="acme", expect=200)).json()["id"] == created["id"]
    renamed = await admin.call("PATCH", f"/projects/{created['id']}", tenant="acme", json={"name": "website"},
                               expect=200)
    assert renamed.json()["name"] == "website"
    bad = await admin.call("POST", "/projects", tenant="acme", json={"name": "bad/name"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "name"
    await admin.call("DELETE", "/projects/website", tenant="acme", expect=204)
    assert (await admin.call("GET", "/projects", tenant="acme", expect=200)).json() == []


async def test_project_with_active_tokens_cannot_be_deleted(admin):
    await admin.create_tenant("acme")
    await admin.call("POST", "/projects", tenant="acme", json={"name": "web"}, expect=201)
    token = await admin.create_token("acme", project="web")
    response = await admin.call("DELETE", "/projects/web", tenant="acme")
    assert response.status_code == 409 and "active API token" in response.json()["detail"]
    await admin.call("DELETE", f"/api-tokens/{token['id']}", tenant="acme", expect=200)
    await admin.call("DELETE", "/projects/web", tenant="acme", expect=204)


async def test_changes_are_audited(admin, platform):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "a@acme.io")
    await admin.create_token("acme")
    with platform.store.tenant("acme") as uow:
        actions = [entry.action for entry in uow.audit.list()]
    assert sorted(actions) == ["token.create", "user.create"]
