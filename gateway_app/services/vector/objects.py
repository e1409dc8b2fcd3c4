"""OpenAI's vector store objects, built from the records."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway_app.db.records import VectorFileBatchRecord, VectorFileRecord, VectorStoreRecord

POLL_AFTER_MS = "500"  # openai-poll-after-ms on objects still in progress: the SDK's pollers pace themselves


def _ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def counts_object(counts: dict[str, int]) -> dict:
    """file_counts with a total."""
    keys = ("in_progress", "completed", "failed", "cancelled")
    return {**{k: counts.get(k, 0) for k in keys}, "total": sum(counts.get(k, 0) for k in keys)}


def store_status(record: VectorStoreRecord, counts: dict[str, int], now: datetime | None = None) -> str:
    """expired past expires_at, in_progress while a file is, completed otherwise."""
    now = now or datetime.now(UTC)
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "in_progress" if counts.get("in_progress") else "completed"


def store_object(record: VectorStoreRecord, counts: dict[str, int]) -> dict:
    """object: vector_store (plus Gatehouse's embedding_model)."""
    return {"id": record.id, "object": "vector_store", "name": record.name, "created_at": _ts(record.created_at),
            "last_active_at": _ts(record.last_active_at), "usage_bytes": record.usage_bytes,
            "metadata": record.metadata, "file_counts": counts_object(counts), "status": store_status(record, counts),
            "expires_after": record.expires_after, "expires_at": _ts(record.expires_at),
            "embedding_model": record.embedding_model}


def strategy_of(record: VectorFileRecord) -> dict:
    """chunking_strategy as OpenAI reports it on a file (auto is reported as static 800/400)."""
    return {"type": "static", "static": {"max_chunk_size_tokens": record.chunking.get("max_tokens", 800),
                                         "chunk_overlap_tokens": record.chunking.get("overlap", 400)}}


def file_object(record: VectorFileRecord) -> dict:
    """object: vector_store.file."""
    return {"id": record.file_id, "object": "vector_store.file", "usage_bytes": record.usage_bytes,
            "created_at": _ts(record.created_at), "vector_store_id": record.store_id, "status": record.status,
            "last_error": record.last_error, "chunking_strategy": strategy_of(record),
            "attributes": record.attributes}


def batch_object(record: VectorFileBatchRecord, counts: dict[str, int]) -> dict:
    """object: vector_store.file_batch."""
    return {"id": record.id, "object": "vector_store.file_batch", "created_at": _ts(record.created_at),
            "vector_store_id": record.store_id, "status": record.status, "file_counts": counts_object(counts)}


def list_page(data: list[dict], limit: int, id_key: str = "id") -> dict:
    """A cursor page: the repository was asked for limit + 1 items to know whether more follow."""
    more = len(data) > limit
    data = data[:limit]
    return {"object": "list", "data": data, "first_id": data[0][id_key] if data else None,
            "last_id": data[-1][id_key] if data else None, "has_more": more}
