"""API tokens: shown once, stored hashed, scoped, revoked at once despite the cache."""

from datetime import UTC, datetime, timedelta

from tests.support.stored import stored_blobs


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_token_is_shown_once_and_stored_only_as_a_hash(admin, client, data_dir, platform):
    await admin.create_tenant("acme")
    created = await admin.create_token("acme", name="backend")
    secret = created["token"]
    assert secret.startswith("gh-") and created["prefix"] == secret[:10] and created["status"] == "active"
    listed = (await admin.call("GET", "/api-tokens", tenant="acme", expect=200)).json()
    assert listed[0]["id"] == created["id"] and "token" not in listed[0] and "token_hash" not in listed[0]
    single = (await admin.call("GET", f"/api-tokens/{created['id']}", tenant="acme", expect=200)).json()
    assert "token" not in single
    blobs = list(stored_blobs(platform, data_dir))
    assert blobs, "the store was looked at"
    for name, blob in blobs:
        assert secret.encode() not in blob, name


async def test_fresh_token_lists_models_and_identifies_the_tenant(admin, client):
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    response = await client.get("/v1/models", headers=bearer(token["token"]))
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": []}
    assert response.headers["x-tenant-id"] == "acme" and response.headers["x-user-id"] == token["id"]


async def test_revocation_applies_to_the_very_next_request(admin, client, platform):
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    for _ in range(3):  # warm the cache: later requests do not touch the database
        assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200
    reads = platform.token_resolver.store_reads
    assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200
    assert platform.token_resolver.store_reads == reads, "steady state must not read the database"
    revoked = await admin.call("DELETE", f"/api-tokens/{token['id']}", tenant="acme", expect=200)
    assert revoked.json()["status"] == "revoked"
    response = await client.get("/v1/models", headers=bearer(token["token"]))
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and "revoked" in error["message"]


async def test_unknown_and_missing_tokens_are_401_in_openai_shape(client):
    for headers in ({}, bearer("gh-made-up"), {"Authorization": "Basic abc"}):
        response = await client.get("/v1/models", headers=headers)
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert response.json()["error"]["type"] == "authentication_error"


async def test_x_api_key_header_is_accepted(admin, client):
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    assert (await client.get("/v1/models", headers={"x-api-key": token["token"]})).status_code == 200


async def test_expired_token_is_refused(admin, client, platform):
    await admin.create_tenant("acme")
    soon = datetime.now(UTC) + timedelta(seconds=1)
    token = await admin.create_token("acme", expires_at=soon.isoformat())
    assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200
    past = await admin.call("POST", "/api-tokens", tenant="acme",
                            json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "expires_at"
    import asyncio

    await asyncio.sleep(1.1)
    response = await client.get("/v1/models", headers=bearer(token["token"]))
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


async def test_suspended_tenant_and_expired_license_are_403(admin, client):
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200
    await admin.call("PATCH", "/tenants/acme", json={"status": "suspended"}, expect=200)
    response = await client.get("/v1/models", headers=bearer(token["token"]))
    assert response.status_code == 403 and "suspended" in response.json()["error"]["message"]
    await admin.call("PATCH", "/tenants/acme", json={"status": "active", "license_expires_at": "2001-01-01T00:00:00Z"},
                     expect=200)
    response = await client.get("/v1/models", headers=bearer(token["token"]))
    assert response.status_code == 403 and "license" in response.json()["error"]["message"]


async def test_feature_missing_from_the_license_is_403(admin, client):
    await admin.create_tenant("acme", features=["embeddings"])
    token = await admin.create_token("acme")
    response = await client.post("/v1/chat/completions", headers=bearer(token["token"]), json={})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_disabled"
    assert "'chat'" in response.json()["error"]["message"]
    assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200


async def test_feature_scopes_of_a_token(admin, client):
    await admin.create_tenant("acme", features=["chat", "embeddings"])
    token = await admin.create_token("acme", scopes={"features": ["embeddings"]})
    chat = await client.post("/v1/chat/completions", headers=bearer(token["token"]), json={})
    assert chat.status_code == 403
    embeddings = await client.post("/v1/embeddings", headers=bearer(token["token"]), json={})
    assert embeddings.status_code == 400, "allowed through auth, then the body is checked"
    assert embeddings.json()["error"]["param"] == "model"
    unlicensed = await admin.call("POST", "/api-tokens", tenant="acme", json={"name": "x", "scopes": {"features": ["files"]}})
    assert unlicensed.status_code == 400 and unlicensed.json()["field"] == "scopes.features"


async def test_token_in_a_project_and_license_token_limit(admin):
    await admin.create_tenant("acme", limits={"max_tokens": 1})
    await admin.call("POST", "/projects", tenant="acme", json={"name": "web"}, expect=201)
    missing = await admin.call("POST", "/api-tokens", tenant="acme", json={"name": "x", "project": "nope"})
    assert missing.status_code == 404 and missing.json()["field"] == "project"
    token = await admin.create_token("acme", project="web")
    assert token["project_id"].startswith("prj_")
    listed = (await admin.call("GET", "/api-tokens", tenant="acme", params={"project": "web"}, expect=200)).json()
    assert [t["id"] for t in listed] == [token["id"]]
    assert (await admin.call("POST", "/api-tokens", tenant="acme", json={"name": "two"})).status_code == 409


async def test_last_used_is_recorded_off_the_request_path(admin, client, platform):
    await admin.create_tenant("acme")
    token = await admin.create_token("acme")
    assert (await client.get("/v1/models", headers=bearer(token["token"]))).status_code == 200
    platform.token_resolver.touch_writer.flush()
    listed = (await admin.call("GET", f"/api-tokens/{token['id']}", tenant="acme", expect=200)).json()
    assert listed["last_used_at"] is not None
