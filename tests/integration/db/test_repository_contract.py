"""Repository contract: what every backend must do, run against each backend."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway_app.db.errors import DuplicateKey, InvalidSlug, TenantStoreMissing
from gateway_app.db.records import (
    ApiTokenRecord,
    AuditRecord,
    DirectoryEntry,
    PlatformAdminRecord,
    ProjectRecord,
    TenantRecord,
    TokenIndexEntry,
    UserRecord,
)


def _tenant(store, slug="acme", **fields):
    with store.control() as uow:
        uow.tenants.add(TenantRecord(slug=slug, name=fields.pop("name", slug.title()), **fields))
        uow.commit()
    store.create_tenant_store(slug)


def test_tenants_add_get_search_paginate_update_delete(store):
    for slug, name in (("acme", "Acme Corp"), ("globex", "Globex"), ("initech", "Initech Acme Division")):
        _tenant(store, slug, name=name, features=["chat"], limits={"rpm": 10})
    with store.control() as uow:
        assert uow.tenants.get("acme").features == ["chat"]
        assert uow.tenants.get("acme").limits == {"rpm": 10}
        assert [t.slug for t in uow.tenants.list(search="acme")] == ["acme", "initech"]
        assert uow.tenants.count(search="ACME") == 2
        assert [t.slug for t in uow.tenants.list(offset=1, limit=1)] == ["globex"]
        assert uow.tenants.count() == 3
        updated = uow.tenants.update("globex", {"status": "suspended", "features": ["chat", "files"]})
        assert updated.status == "suspended" and updated.features == ["chat", "files"]
        assert uow.tenants.update("nope", {"status": "x"}) is None
        assert uow.tenants.delete("initech") and not uow.tenants.delete("initech")
        uow.commit()
    with store.control() as uow:
        assert uow.tenants.get("globex").status == "suspended"
        assert uow.tenants.get("initech") is None


def test_search_treats_like_wildcards_literally(store):
    _tenant(store, "a-b", name="100% real")
    _tenant(store, "ab", name="abc")
    with store.control() as uow:
        assert [t.slug for t in uow.tenants.list(search="%")] == ["a-b"]
        assert [t.slug for t in uow.tenants.list(search="_")] == []


def test_leaving_without_commit_discards_changes(store):
    with store.control() as uow:
        uow.tenants.add(TenantRecord(slug="ghost", name="Ghost"))
    with store.control() as uow:
        assert uow.tenants.get("ghost") is None


def test_exception_inside_unit_of_work_discards_changes(store):
    with pytest.raises(RuntimeError):
        with store.control() as uow:
            uow.tenants.add(TenantRecord(slug="ghost", name="Ghost"))
            raise RuntimeError("crash before commit")
    with store.control() as uow:
        assert uow.tenants.count() == 0


def test_duplicate_keys_raise_duplicate_key(store):
    _tenant(store)
    with store.control() as uow:
        with pytest.raises(DuplicateKey):
            uow.tenants.add(TenantRecord(slug="acme", name="Again"))
    with store.tenant("acme") as uow:
        uow.users.add(UserRecord(email="a@x.io", password_hash="h"))
        with pytest.raises(DuplicateKey) as info:
            uow.users.add(UserRecord(email="a@x.io", password_hash="h"))
        assert info.value.field == "email"


def test_datetimes_come_back_timezone_aware(store):
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    _tenant(store, license_expires_at=expires)
    with store.control() as uow:
        record = uow.tenants.get("acme")
    assert record.license_expires_at == expires
    assert record.created_at.tzinfo is not None


def test_platform_admins_directory_and_token_index(store):
    with store.control() as uow:
        admin = uow.admins.add(PlatformAdminRecord(email="root@x.io", password_hash="h"))
        uow.directory.add(DirectoryEntry("u@x.io", "acme", "usr_1"))
        uow.directory.add(DirectoryEntry("v@x.io", "other", "usr_2"))
        uow.token_index.add(TokenIndexEntry("a" * 64, "acme", "tok_1"))
        uow.commit()
    with store.control() as uow:
        assert uow.admins.get_by_email("root@x.io").id == admin.id
        assert uow.admins.count() == 1
        assert uow.directory.get("u@x.io").tenant_slug == "acme"
        assert uow.token_index.get("a" * 64).token_id == "tok_1"
        assert uow.directory.delete_tenant("acme") == 1
        assert uow.token_index.delete_tenant("acme") == 1
        uow.commit()
    with store.control() as uow:
        assert uow.directory.get("u@x.io") is None and uow.directory.get("v@x.io") is not None
        assert uow.token_index.get("a" * 64) is None


def test_tenant_repositories_users_projects_tokens_audit(store):
    _tenant(store)
    now = datetime.now(UTC).replace(microsecond=0)
    with store.tenant("acme") as uow:
        user = uow.users.add(UserRecord(email="b@x.io", password_hash="h", role="admin"))
        uow.users.add(UserRecord(email="a@x.io", password_hash="h"))
        project = uow.projects.add(ProjectRecord(name="web"))
        first = uow.api_tokens.add(ApiTokenRecord(name="one", token_hash="1" * 64, prefix="gh-1", project_id=project.id,
                                                  scopes={"models": ["m"]}, created_at=now - timedelta(minutes=1)))
        second = uow.api_tokens.add(ApiTokenRecord(name="two", token_hash="2" * 64, prefix="gh-2", created_at=now))
        uow.audit.add(AuditRecord(actor="root", action="user.create", target=user.id, detail={"k": 1}))
        uow.commit()
    with store.tenant("acme") as uow:
        assert [u.email for u in uow.users.list()] == ["a@x.io", "b@x.io"]
        assert uow.users.get_by_email("b@x.io").role == "admin"
        assert uow.users.count() == 2
        assert uow.projects.get_by_name("web").id == project.id
        assert [t.name for t in uow.api_tokens.list()] == ["two", "one"]  # newest first
        assert [t.name for t in uow.api_tokens.list(project_id=project.id)] == ["one"]
        assert uow.api_tokens.get(first.id).scopes == {"models": ["m"]}
        assert uow.api_tokens.count_active_for_project(project.id) == 1
        uow.api_tokens.update(first.id, {"revoked_at": now})
        assert uow.api_tokens.count_active_for_project(project.id) == 0
        uow.api_tokens.touch_many([(second.id, now)])
        uow.commit()
    with store.tenant("acme") as uow:
        assert uow.api_tokens.get(second.id).last_used_at == now
        assert uow.audit.list()[0].detail == {"k": 1}
        with pytest.raises(ValueError):
            uow.users.update(user.id, {"id": "other"})


def test_missing_tenant_store_is_reported_and_not_created(store):
    with pytest.raises(TenantStoreMissing):
        store.tenant("nobody")
    assert not store.tenant_store_exists("nobody")


def test_slugs_that_could_escape_the_data_dir_are_refused(store):
    for slug in ("../x", "a/b", "A", "x", "-ab", "a" * 64, "a.b", ""):
        with pytest.raises(InvalidSlug):
            store.tenant(slug)
        with pytest.raises(InvalidSlug):
            store.create_tenant_store(slug)


def test_drop_tenant_store_removes_it(store):
    _tenant(store)
    store.drop_tenant_store("acme")
    assert not store.tenant_store_exists("acme")
    with pytest.raises(TenantStoreMissing):
        store.tenant("acme")


def test_data_of_one_tenant_is_invisible_to_another(store):
    _tenant(store, "alpha")
    _tenant(store, "beta")
    with store.tenant("alpha") as uow:
        user = uow.users.add(UserRecord(email="a@alpha.io", password_hash="h"))
        uow.commit()
    with store.tenant("beta") as uow:
        assert uow.users.get(user.id) is None
        assert uow.users.get_by_email("a@alpha.io") is None
        assert uow.users.list() == []


def test_appends_write_usage_with_rollups_and_token_touches(store):
    from gateway_app.db.records import UsageRecord
    from gateway_app.services.append_writers import rollups_of

    _tenant(store, "acme")
    _tenant(store, "globex")
    hour = datetime(2026, 12, 1, 10, tzinfo=UTC)
    with store.tenant("acme") as uow:
        token = uow.api_tokens.add(ApiTokenRecord(name="t", token_hash="3" * 64, prefix="gh-3"))
        uow.commit()
    first = [UsageRecord(request_id=f"r{i}", model="m", token_id=token.id, prompt_tokens=2, completion_tokens=3,
                         cost_usd=0.5, latency_ms=10.0, at=hour + timedelta(minutes=i)) for i in range(3)]
    store.appends.usage("acme", first, rollups_of(first))
    later = [UsageRecord(request_id="r9", model="m", token_id=token.id, status=500, prompt_tokens=1,
                         at=hour + timedelta(minutes=30)),
             UsageRecord(request_id="r10", model="m", token_id=token.id, status=400, error_type="guardrail_violation",
                         at=hour + timedelta(minutes=31))]
    store.appends.usage("acme", later, rollups_of(later))  # merges into the same hour's row
    store.appends.token_touches("acme", [(token.id, hour)])
    with store.tenant("acme") as uow:
        assert uow.usage.count() == 5
        [rollup] = uow.usage.rollups(hour, hour + timedelta(hours=1))
        assert (rollup.requests, rollup.errors, rollup.blocked, rollup.prompt_tokens,
                rollup.completion_tokens) == (5, 1, 1, 7, 9)  # a guardrail block is not an error
        # Latency is measured over the answered requests: the block is left out of the histogram.
        assert rollup.cost_usd == pytest.approx(1.5) and sum(rollup.latency_buckets) == 4
        assert uow.usage.count(status="error") == 1 and uow.usage.count(status="blocked") == 1
        assert uow.api_tokens.get(token.id).last_used_at == hour
    with store.tenant("globex") as uow:
        assert uow.usage.count() == 0  # nothing crossed tenants
    with pytest.raises(TenantStoreMissing):
        store.appends.usage("ghost", first, rollups_of(first))
    store.drop_tenant_store("globex")
    with pytest.raises(TenantStoreMissing):
        store.appends.token_touches("globex", [(token.id, hour)])
    with pytest.raises(InvalidSlug):
        store.appends.usage("../etc", first, rollups_of(first))


def test_units_of_work_open_at_once_in_two_threads_all_commit(store):
    """A request's unit of work and another thread's (a batch writer, a second request) overlap in
    time, the first opened committing first; every commit lands."""
    import threading

    _tenant(store)
    opened, second_added, first_done, failures = (threading.Event(), threading.Event(), threading.Event(), [])

    def first():
        try:
            with store.tenant("acme") as uow:
                uow.projects.add(ProjectRecord(name="first"))
                opened.set()
                second_added.wait(1)  # a backend that makes units of work take turns never gets there
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            opened.set()
            first_done.set()

    def second():
        opened.wait(5)
        try:
            with store.tenant("acme") as uow:
                uow.projects.add(ProjectRecord(name="second"))
                second_added.set()
                first_done.wait(5)
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    with store.tenant("acme") as uow:
        assert sorted(p.name for p in uow.projects.list()) == ["first", "second"]
