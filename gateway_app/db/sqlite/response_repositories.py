"""SQLite repository of stored Responses API answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from gateway_app.db.records import StoredResponseRecord
from gateway_app.db.sqlite.base_repository import SqlRepository
from gateway_app.db.tables.responses import StoredResponse


class SqlResponseRepository(SqlRepository[StoredResponse, StoredResponseRecord]):
    """By id: get, add, delete (the generic repository); and the retention sweep."""

    table, record = StoredResponse, StoredResponseRecord

    def delete_created_before(self, cutoff: datetime) -> int:
        result = self._session.exec(delete(StoredResponse).where(StoredResponse.created_at < cutoff))
        return int(result.rowcount or 0)
