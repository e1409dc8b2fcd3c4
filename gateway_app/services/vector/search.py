"""Search a vector store (OpenAI's search endpoint) and the raw records API (upsert, query, delete)."""

from __future__ import annotations

import math

import anyio

from gateway_app.core.errors import InvalidInput
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import VectorStoreRecord, utcnow
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.vector.chroma_layer import CHUNK_KEY, FILE_KEY, VectorLayer, attribute_metadata, attributes_of
from gateway_app.services.vector.embedder import Embedder
from gateway_app.services.vector.filters import check_attributes, to_where
from gateway_app.services.vector.stores import VectorStoreService

MAX_RESULTS = 50
MAX_RECORDS = 1000
MAX_RECORD_TEXT = 100_000
MAX_DIMENSIONS = 16_384
RANKERS = ("auto", "default-2024-11-15", "none")
TOUCH_EVERY_SECONDS = 60


def int_param(value: object, name: str, low: int, high: int, default: int) -> int:
    """An integer request option within bounds (default when absent)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"'{name}' must be an integer between {low} and {high}", param=name)
    return value


def _threshold(options: object) -> float:
    if options is None:
        return 0.0
    if not isinstance(options, dict):
        raise InvalidInput("'ranking_options' must be an object", param="ranking_options")
    if options.get("ranker") is not None and options["ranker"] not in RANKERS:
        raise InvalidInput(f"'ranking_options.ranker' must be one of {', '.join(RANKERS)}", param="ranking_options")
    value = options.get("score_threshold", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput("'ranking_options.score_threshold' must be a number between 0 and 1",
                           param="ranking_options")
    return float(value)


def _vector(value: object, param: str) -> list[float]:
    if (not isinstance(value, list) or not 0 < len(value) <= MAX_DIMENSIONS
            or not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value)):
        raise InvalidInput(f"'{param}' must be a list of at most {MAX_DIMENSIONS} finite numbers", param=param)
    return [float(x) for x in value]


def file_names(uow, file_ids) -> dict[str, str]:
    """The uploaded files' names by id ("" for a file deleted since)."""
    names = {}
    for file_id in file_ids:
        upload = uow.files.get(file_id)
        names[file_id] = upload.filename if upload else ""
    return names


class VectorSearch:
    """Ranked chunks of one of the tenant's stores."""

    def __init__(self, store: DataStore, stores: VectorStoreService, layer: VectorLayer, embedder: Embedder) -> None:
        self._store = store
        self._stores = stores
        self._layer = layer
        self._embedder = embedder

    async def _record(self, identity: ClientIdentity, store_id: str) -> VectorStoreRecord:
        return await anyio.to_thread.run_sync(self._stores.record, identity, store_id)

    def _touch(self, identity: ClientIdentity, record: VectorStoreRecord) -> None:
        # last_active_at (expiry's anchor) moves at most once a minute: not a write per search.
        if (utcnow() - record.last_active_at).total_seconds() < TOUCH_EVERY_SECONDS:
            return
        with self._store.tenant(identity.tenant_slug) as uow:
            uow.vector_stores.update(record.id, {"last_active_at": utcnow()})
            uow.commit()

    def _check_dimensions(self, record: VectorStoreRecord, vector: list[float], param: str) -> None:
        if record.dimensions and len(vector) != record.dimensions:
            raise InvalidInput(f"'{param}' has {len(vector)} dimensions; vector store {record.id!r} holds "
                               f"{record.dimensions}", param=param)

    async def search(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/search."""
        record = await self._record(identity, store_id)
        top_k = int_param(body.get("max_num_results"), "max_num_results", 1, MAX_RESULTS, 10)
        threshold = _threshold(body.get("ranking_options"))
        where = to_where(body.get("filters"))
        query = body.get("query")
        vector = await self._embedder.embed_query(identity, record.embedding_model, query)
        self._check_dimensions(record, vector, "query")

        def run():
            hits = self._layer.query(identity.tenant_slug, store_id, vector, top_k, where) if record.dimensions \
                else []
            with self._store.tenant(identity.tenant_slug) as uow:
                names = file_names(uow, {h.metadata.get(FILE_KEY) for h in hits if h.metadata.get(FILE_KEY)})
            self._touch(identity, record)
            return hits, names

        hits, names = await anyio.to_thread.run_sync(run)
        data = [{"file_id": h.metadata.get(FILE_KEY) or None, "filename": names.get(h.metadata.get(FILE_KEY), ""),
                 "score": h.score, "attributes": attributes_of(h.metadata),
                 "content": [{"type": "text", "text": h.text}]} for h in hits if h.score >= threshold]
        queries = query if isinstance(query, list) else [query]
        return {"object": "vector_store.search_results.page", "search_query": queries, "data": data,
                "has_more": False, "next_page": None}

    # Raw records ------------------------------------------------------------------------------

    async def upsert(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/records: embeds the records given without an embedding."""
        record = await self._record(identity, store_id)
        items = body.get("records")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_RECORDS:
            raise InvalidInput(f"'records' must be a list of 1-{MAX_RECORDS} records", param="records")
        ids, texts, vectors, metadatas, missing = [], [], [], [], []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise InvalidInput(f"records[{n}] must be an object", param="records")
            rid, text = item.get("id"), item.get("text", "")
            if not isinstance(rid, str) or not 0 < len(rid) <= 200 or ":" in rid:
                raise InvalidInput(f"records[{n}].id must be 1-200 characters without ':'", param="records")
            if not isinstance(text, str) or len(text) > MAX_RECORD_TEXT:
                raise InvalidInput(f"records[{n}].text must be a string of at most {MAX_RECORD_TEXT} characters",
                                   param="records")
            if item.get("embedding") is None:
                if not text.strip():
                    raise InvalidInput(f"records[{n}] needs a text or an embedding", param="records")
                missing.append(n)
                vectors.append([])
            else:
                vectors.append(_vector(item["embedding"], f"records[{n}].embedding"))
            ids.append(rid)
            texts.append(text)
            metadatas.append({FILE_KEY: "", CHUNK_KEY: 0,
                              **attribute_metadata(check_attributes(item.get("attributes"), f"records[{n}].attributes"))})
        if missing:
            made = await self._embedder.embed(identity, record.embedding_model, [texts[n] for n in missing], "vsr")
            for n, vector in zip(missing, made, strict=True):
                vectors[n] = vector
        dims = record.dimensions or len(vectors[0])
        for n, vector in enumerate(vectors):
            if len(vector) != dims:
                raise InvalidInput(f"records[{n}] has {len(vector)} dimensions; vector store {store_id!r} holds "
                                   f"{dims}", param="records")

        def write() -> None:
            self._layer.upsert(identity.tenant_slug, store_id, ids, vectors, texts, metadatas)
            with self._store.tenant(identity.tenant_slug) as uow:
                uow.vector_stores.update(store_id, {"dimensions": dims, "last_active_at": utcnow()})
                uow.commit()

        await anyio.to_thread.run_sync(write)
        return {"object": "vector_store.records.upserted", "vector_store_id": store_id, "ids": ids,
                "dimensions": dims}

    async def query(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """POST /v1/vector_stores/{id}/query: nearest records to a text or an embedding."""
        record = await self._record(identity, store_id)
        top_k = int_param(body.get("top_k"), "top_k", 1, MAX_RESULTS, 10)
        where = to_where(body.get("filters"))
        if body.get("embedding") is not None:
            vector = _vector(body["embedding"], "embedding")
        elif body.get("text") is not None:
            vector = await self._embedder.embed_query(identity, record.embedding_model, body["text"])
        else:
            raise InvalidInput("give 'text' or 'embedding'", param="text")
        self._check_dimensions(record, vector, "embedding")
        hits = await anyio.to_thread.run_sync(
            lambda: self._layer.query(identity.tenant_slug, store_id, vector, top_k, where) if record.dimensions
            else [])
        return {"object": "list", "data": [
            {"id": h.id, "text": h.text, "score": h.score, "file_id": h.metadata.get(FILE_KEY) or None,
             "attributes": attributes_of(h.metadata)} for h in hits]}

    async def delete(self, identity: ClientIdentity, store_id: str, body: dict) -> dict:
        """DELETE /v1/vector_stores/{id}/records {ids}."""
        await self._record(identity, store_id)
        ids = body.get("ids")
        if not isinstance(ids, list) or not 0 < len(ids) <= MAX_RECORDS or not all(isinstance(i, str) for i in ids):
            raise InvalidInput(f"'ids' must be a list of 1-{MAX_RECORDS} record ids", param="ids")
        await anyio.to_thread.run_sync(self._layer.delete_ids, identity.tenant_slug, store_id, ids)
        return {"object": "vector_store.records.deleted", "vector_store_id": store_id, "ids": ids, "deleted": True}
