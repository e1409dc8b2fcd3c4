"""MongoDB repository of stored Responses API answers."""

from __future__ import annotations

from datetime import datetime

from gateway_app.db.mongo.documents import MongoRepository
from gateway_app.db.records import StoredResponseRecord


class MongoResponseRepository(MongoRepository[StoredResponseRecord]):
    """By id: get, add, delete (the generic repository); and the retention sweep."""

    collection_name, record = "responses", StoredResponseRecord
    json_fields = ("body", "input_items", "messages")  # JSON schemas and tool arguments hold keys like "$ref"

    def delete_created_before(self, cutoff: datetime) -> int:
        return self._c.delete_many({"created_at": {"$lt": cutoff}}, session=self._session).deleted_count
