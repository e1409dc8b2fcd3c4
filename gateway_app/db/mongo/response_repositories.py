"""MongoDB repository of stored Responses API answers."""

from __future__ import annotations

from gateway_app.db.mongo.documents import MongoRepository
from gateway_app.db.records import StoredResponseRecord


class MongoResponseRepository(MongoRepository[StoredResponseRecord]):
    """By id: get, add, delete (the generic repository)."""

    collection_name, record = "responses", StoredResponseRecord
    json_fields = ("body", "input_items", "messages")  # JSON schemas and tool arguments hold keys like "$ref"
