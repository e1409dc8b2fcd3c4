"""Collections, indexes and ordered schema steps of the MongoDB backend (the equivalent of the Alembic trees).

Every database holds a `_schema` document `{_id: "schema", version}`; `migrate` runs the steps past
it in order. Index creation is idempotent, so a step re-run after a crash does no harm.
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

SCHEMA = "_schema"

# collection -> [(keys, unique)]; `_id` is the record's key and needs no index.
CONTROL_INDEXES: dict[str, list[tuple[list, bool]]] = {
    "tenants": [([("name", ASCENDING)], False)],
    "platform_admins": [([("email", ASCENDING)], True)],
    "user_directory": [([("tenant_slug", ASCENDING)], False)],
    "token_index": [([("tenant_slug", ASCENDING)], False)],
}
TENANT_INDEXES: dict[str, list[tuple[list, bool]]] = {
    "users": [([("email", ASCENDING)], True)],
    "projects": [([("name", ASCENDING)], True)],
    "api_tokens": [
        ([("token_hash", ASCENDING)], True),
        ([("project_id", ASCENDING)], False),
        ([("created_at", DESCENDING)], False),
    ],
    "audit_logs": [([("at", DESCENDING)], False)],
    "provider_configs": [([("name", ASCENDING)], True)],
    "models": [([("name", ASCENDING)], True), ([("provider_id", ASCENDING)], False)],
    "model_usage_logs": [
        ([("at", DESCENDING)], False),
        ([("model", ASCENDING)], False),
        ([("token_id", ASCENDING)], False),
        ([("memory_store", ASCENDING)], False),
        ([("rag_module", ASCENDING)], False),
    ],
    "usage_hourly": [
        ([("hour", ASCENDING), ("model", ASCENDING), ("token_id", ASCENDING), ("project_id", ASCENDING)], True)
    ],
    "files": [([("created_at", DESCENDING)], False)],
    "agent_tracing_sessions": [([("started_at", DESCENDING)], False), ([("user", ASCENDING)], False)],
    "agent_tracing_events": [([("session_id", ASCENDING), ("started_at", ASCENDING)], False)],
    "prompts": [([("name", ASCENDING)], True)],
    "prompt_versions": [([("prompt_id", ASCENDING), ("version", ASCENDING)], True)],
    "guardrails": [([("name", ASCENDING)], True)],
    "guardrail_verdicts": [([("at", DESCENDING)], False), ([("policy", ASCENDING)], False)],
    "vector_indexes": [([("created_at", DESCENDING)], False)],
    "vector_store_files": [
        ([("store_id", ASCENDING), ("file_id", ASCENDING)], True),
        ([("file_id", ASCENDING)], False),
        ([("batch_id", ASCENDING)], False),
        ([("status", ASCENDING), ("created_at", ASCENDING)], False),
    ],
    "vector_file_batches": [([("store_id", ASCENDING)], False)],
    "rag_modules": [([("name", ASCENDING)], True)],
    "memory_stores": [([("name", ASCENDING)], True)],
    "memories": [
        ([("store_id", ASCENDING), ("created_at", DESCENDING)], False),
        ([("store_id", ASCENDING), ("hash", ASCENDING)], False),
        ([("store_id", ASCENDING), ("user_id", ASCENDING)], False),
        ([("expires_at", ASCENDING)], False),
    ],
    "memory_events": [
        ([("memory_id", ASCENDING), ("at", ASCENDING)], False),
        ([("store_id", ASCENDING), ("user_id", ASCENDING)], False),
        ([("store_id", ASCENDING), ("at", ASCENDING)], False),
    ],
    "memory_jobs": [([("store_id", ASCENDING)], False), ([("status", ASCENDING), ("created_at", ASCENDING)], False)],
}


ALERT_INDEXES: dict[str, list[tuple[list, bool]]] = {
    "alert_channels": [([("name", ASCENDING)], True)],
    "alert_rules": [([("name", ASCENDING)], True)],
    "alert_events": [([("rule_id", ASCENDING), ("at", DESCENDING)], False), ([("at", DESCENDING)], False)],
    "alert_deliveries": [([("event_id", ASCENDING)], False), ([("channel_id", ASCENDING), ("at", DESCENDING)], False)],
}


RESPONSE_INDEXES: dict[str, list[tuple[list, bool]]] = {
    "responses": [([("created_at", DESCENDING)], False)],
}


def _index_name(keys: list) -> str:
    return "ix_" + "_".join(f"{field}_{'d' if order == DESCENDING else 'a'}" for field, order in keys)


def _indexes(spec: dict[str, list[tuple[list, bool]]]) -> Callable[[Database], None]:
    def step(db: Database) -> None:
        for collection, indexes in spec.items():
            for keys, unique in indexes:
                db[collection].create_index(keys, unique=unique, name=_index_name(keys))

    return step


# Ordered steps; append, never edit one that has shipped.
CONTROL_STEPS: list[Callable[[Database], None]] = [_indexes(CONTROL_INDEXES)]
TENANT_STEPS: list[Callable[[Database], None]] = [_indexes(TENANT_INDEXES), _indexes(ALERT_INDEXES),
                                                  _indexes(RESPONSE_INDEXES)]


def version(db: Database) -> int:
    """The schema version a database is at (0: never migrated)."""
    doc = db[SCHEMA].find_one({"_id": "schema"})
    return int(doc["version"]) if doc else 0


def upgrade(db: Database, steps: list[Callable[[Database], None]]) -> bool:
    """Run the steps past the database's version, recording each; True when something ran."""
    current = version(db)
    for number, step in enumerate(steps[current:], start=current + 1):
        step(db)
        db[SCHEMA].update_one({"_id": "schema"}, {"$set": {"version": number}}, upsert=True)
    return current < len(steps)
