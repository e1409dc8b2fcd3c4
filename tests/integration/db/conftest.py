"""Backends under test: every DataStore implementation runs the same contract tests."""

import pytest

from gateway_app.db.mongo.store import CONTROL_DB, MongoStore
from gateway_app.db.sqlite.store import SqliteStore


def _sqlite(request, tmp_path):
    store = SqliteStore(tmp_path / "data")
    store.migrate()
    return store


def _mongodb(request, tmp_path):
    # One server per session: each test starts from empty databases.
    store = MongoStore(request.getfixturevalue("mongo_server").uri)
    for name in store.client.list_database_names():
        if name == CONTROL_DB or name.startswith("tenant_"):
            store.client.drop_database(name)
    store.migrate()
    return store


BACKENDS = {"sqlite": _sqlite, "mongodb": _mongodb}


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path):
    """A migrated, empty store of each backend."""
    built = BACKENDS[request.param](request, tmp_path)
    yield built
    built.close()
