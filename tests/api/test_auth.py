"""Login, JWT sessions and roles on the management API."""

import time

import jwt as pyjwt

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.api import AdminApi


async def test_login_returns_a_bearer_jwt(client):
    response = await client.post("/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["role"] == "platform_admin"
    me = await client.get("/admin/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == ADMIN_EMAIL


async def test_wrong_password_and_unknown_email_look_the_same(client):
    wrong = await client.post("/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
    unknown = await client.post("/admin/v1/auth/login", json={"email": "who@x.io", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "wrong e-mail or password"


async def test_missing_or_bad_token_is_401(client):
    assert (await client.get("/admin/v1/tenants")).status_code == 401
    bad = await client.get("/admin/v1/tenants", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401 and bad.json()["detail"] == "invalid token"


async def test_expired_session_is_401_with_a_clear_message(client, settings):
    expired = pyjwt.encode({"sub": "x", "role": "platform_admin", "iat": int(time.time()) - 100,
                            "exp": int(time.time()) - 10, "iss": "gatehouse"}, settings.jwt_secret, algorithm="HS256")
    response = await client.get("/admin/v1/tenants", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["detail"] == "session expired"


async def test_login_body_is_validated_with_field_names(client):
    response = await client.post("/admin/v1/auth/login", json={"email": ADMIN_EMAIL})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


async def test_tenant_user_logs_in_bound_to_their_tenant(admin, client):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "ops@acme.io", role="admin")
    user = AdminApi(client)
    body = await user.login("ops@acme.io", "password-123")
    assert body["role"] == "admin" and body["tenant"] == "acme"
    users = await user.call("GET", "/users", expect=200)
    assert [u["email"] for u in users.json()] == ["ops@acme.io"]


async def test_deactivated_user_loses_access_on_the_next_request(admin, client):
    await admin.create_tenant("acme")
    created = await admin.create_user("acme", "ops@acme.io", role="member")
    user = AdminApi(client)
    await user.login("ops@acme.io", "password-123")
    await user.call("GET", "/users", expect=200)
    await admin.call("PATCH", f"/users/{created['id']}", tenant="acme", json={"status": "deactivated"}, expect=200)
    response = await user.call("GET", "/users")
    assert response.status_code == 401
    assert (await client.post("/admin/v1/auth/login",
                              json={"email": "ops@acme.io", "password": "password-123"})).status_code == 401


async def test_users_of_a_suspended_tenant_are_refused(admin, client):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "ops@acme.io")
    user = AdminApi(client)
    await user.login("ops@acme.io", "password-123")
    await admin.call("PATCH", "/tenants/acme", json={"status": "suspended"}, expect=200)
    assert (await user.call("GET", "/users")).status_code == 403
    login = await client.post("/admin/v1/auth/login", json={"email": "ops@acme.io", "password": "password-123"})
    assert login.status_code == 403 and "suspended" in login.json()["detail"]


async def test_members_are_read_only(admin, client):
    await admin.create_tenant("acme")
    await admin.create_user("acme", "viewer@acme.io", role="member")
    member = AdminApi(client)
    await member.login("viewer@acme.io", "password-123")
    await member.call("GET", "/users", expect=200)
    await member.call("GET", "/api-tokens", expect=200)
    for method, path, body in (("POST", "/users", {"email": "x@acme.io"}), ("POST", "/api-tokens", {"name": "t"}),
                               ("POST", "/projects", {"name": "p"})):
        response = await member.call(method, path, json=body)
        assert response.status_code == 403, path
        assert response.json()["detail"] == "members have read-only access"
