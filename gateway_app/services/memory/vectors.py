"""How memories sit in the vector layer: one collection per memory store, a vector per memory (same id),
its scope and expiry as metadata so Chroma narrows candidates before ranking."""

from __future__ import annotations

import hashlib
from datetime import datetime

from gateway_app.core.errors import InvalidInput
from gateway_app.db.records import MemoryRecord
from gateway_app.services.memory.extraction import normalised

NEVER = 253_402_300_799.0  # 9999-12-31: the expiry of memories that do not expire
SCOPE_KEYS = ("user_id", "agent_id", "run_id")
MAX_ID = 200


def memory_hash(text: str) -> str:
    """The hash that makes an exact restatement a NONE without a model call."""
    return hashlib.sha256(normalised(text).encode()).hexdigest()


def vector_metadata(record: MemoryRecord) -> dict:
    """Chroma metadata of a memory's vector."""
    return {"user_id": record.user_id, "agent_id": record.agent_id, "run_id": record.run_id,
            "exp": record.expires_at.timestamp() if record.expires_at else NEVER}


def scope_of(values: dict, *, required: bool) -> dict[str, str]:
    """user_id / agent_id / run_id of a request: strings up to 200 characters; at least one when required."""
    scope = {}
    for key in SCOPE_KEYS:
        value = values.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > MAX_ID:
            raise InvalidInput(f"'{key}' must be a string of at most {MAX_ID} characters", param=key)
        scope[key] = value
    if required and not scope:
        raise InvalidInput("give at least one of 'user_id', 'agent_id' or 'run_id': memories are always scoped",
                           param="user_id")
    return scope


def scope_where(scope: dict[str, str], now: datetime) -> dict:
    """A Chroma `where` for memories of this scope that have not expired."""
    conditions: list[dict] = [{key: value} for key, value in scope.items()]
    conditions.append({"exp": {"$gt": now.timestamp()}})
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}
