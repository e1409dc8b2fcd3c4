"""Login throttling (per e-mail, per address, before any hashing) and sessions that end server-side."""

import asyncio
import threading

import pytest

from gateway_app.core.security import HasherBusy, PasswordHasher, hash_password
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.api import AdminApi


async def _login(client, email, password):
    return await client.post("/admin/v1/auth/login", json={"email": email, "password": password})


async def test_repeated_wrong_passwords_get_429_with_retry_after_and_cost_no_hashing(client, platform):
    statuses = [(await _login(client, ADMIN_EMAIL, f"wrong-{i}")).status_code for i in range(12)]
    assert statuses[:5] == [401] * 5  # a few mistakes are free
    assert 429 in statuses[5:]
    locked = await _login(client, ADMIN_EMAIL, "wrong-again")
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.json()["code"] == "too_many_login_attempts"
    hashed_before = platform.auth._hasher.runs
    for _ in range(50):
        assert (await _login(client, ADMIN_EMAIL, "flood")).status_code == 429
    assert platform.auth._hasher.runs == hashed_before, "a locked key must not cost a password hash"
    # While locked even the right password waits (an attacker cannot probe it meanwhile).
    assert (await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 429


async def test_unknown_emails_are_throttled_and_hashed_like_known_ones(client, platform):
    before = platform.auth._hasher.runs
    first = await _login(client, "nobody@example.com", "x")
    assert first.status_code == 401 and platform.auth._hasher.runs == before + 1
    statuses = [(await _login(client, "nobody@example.com", "x")).status_code for _ in range(10)]
    assert 429 in statuses


async def test_one_address_trying_many_emails_is_throttled(client):
    statuses = [(await _login(client, f"user{i}@example.com", "x")).status_code for i in range(25)]
    assert statuses[:20] == [401] * 20
    assert 429 in statuses[20:]


async def test_a_correct_login_clears_the_emails_failures(client):
    for _ in range(4):
        assert (await _login(client, ADMIN_EMAIL, "wrong")).status_code == 401
    assert (await _login(client, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    for _ in range(4):
        assert (await _login(client, ADMIN_EMAIL, "wrong")).status_code == 401  # counting starts over


async def test_password_hashing_runs_on_its_own_bounded_threads():
    hasher = PasswordHasher(workers=1, max_waiting=2)
    encoded = hash_password("secret")
    original = threading.current_thread().name
    results = await asyncio.gather(*(hasher.verify("secret", encoded) for _ in range(3)))
    assert results == [True] * 3
    future = hasher._run(lambda: threading.current_thread().name)
    assert future.result().startswith("password-hash") and future.result() != original
    with pytest.raises(HasherBusy):
        await asyncio.gather(*(hasher.verify("secret", encoded) for _ in range(10)))
    hasher.close()


async def test_logout_ends_the_session_server_side(admin, client):
    me = await admin.call("GET", "/auth/me")
    assert me.status_code == 200
    other = AdminApi(client)
    await other.login(ADMIN_EMAIL, ADMIN_PASSWORD)  # a second session of the same user
    assert (await admin.call("POST", "/auth/logout")).status_code == 204
    ended = await admin.call("GET", "/auth/me")
    assert ended.status_code == 401 and "session ended" in ended.json()["detail"]
    assert (await other.call("GET", "/auth/me")).status_code == 401  # logout ends every session of the user
    fresh = AdminApi(client)
    await fresh.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert (await fresh.call("GET", "/auth/me")).status_code == 200


@pytest.mark.parametrize("change", [{"password": "a-new-password-9"}, {"role": "member"}, {"status": "deactivated"}])
async def test_password_role_or_status_changes_end_the_users_sessions(admin, client, change):
    await admin.create_tenant("acme")
    user = await admin.create_user("acme", "ops@acme.io", role="admin")
    session = AdminApi(client)
    await session.login("ops@acme.io", "password-123")
    assert (await session.call("GET", "/auth/me")).status_code == 200
    await admin.call("PATCH", f"/users/{user['id']}", tenant="acme", json=change, expect=200)
    assert (await session.call("GET", "/auth/me")).status_code == 401
    if "password" in change:
        again = AdminApi(client)
        await again.login("ops@acme.io", change["password"])
        assert (await again.call("GET", "/auth/me")).status_code == 200


async def test_renaming_a_user_keeps_their_session(admin, client):
    await admin.create_tenant("acme")
    user = await admin.create_user("acme", "ops@acme.io", role="admin")
    session = AdminApi(client)
    await session.login("ops@acme.io", "password-123")
    await admin.call("PATCH", f"/users/{user['id']}", tenant="acme", json={"name": "Ops Team"}, expect=200)
    assert (await session.call("GET", "/auth/me")).status_code == 200
