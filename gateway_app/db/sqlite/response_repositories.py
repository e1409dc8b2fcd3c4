"""SQLite repository of stored Responses API answers."""

from __future__ import annotations

from gateway_app.db.records import StoredResponseRecord
from gateway_app.db.sqlite.base_repository import SqlRepository
from gateway_app.db.tables.responses import StoredResponse


class SqlResponseRepository(SqlRepository[StoredResponse, StoredResponseRecord]):
    """By id: get, add, delete (the generic repository)."""

    table, record = StoredResponse, StoredResponseRecord
