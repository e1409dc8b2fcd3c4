"""Backends under test: every DataStore implementation runs the same contract tests."""

import pytest

from gateway_app.db.sqlite.store import SqliteStore


def _sqlite(tmp_path):
    store = SqliteStore(tmp_path / "data")
    store.migrate()
    return store


# The MongoDB backend joins this list when it is built.
BACKENDS = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path):
    """A migrated, empty store of each backend."""
    built = BACKENDS[request.param](tmp_path)
    yield built
    built.close()
