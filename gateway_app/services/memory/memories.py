"""The client API of memory stores: add (at once or as a job), search, list, get, edit, delete, history,
forget a user, and the expiry of memories past their store's retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import anyio

from gateway_app.core.errors import InvalidInput, NotFound
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import MemoryEventRecord, MemoryRecord, MemoryStoreRecord, TraceEvent, precise_now
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.memory.adds import MemoryWriter, actor_of, parse_add
from gateway_app.services.memory.extraction import MAX_FACT_CHARS
from gateway_app.services.memory.filters import compile_filters
from gateway_app.services.memory.jobs import AddJobs
from gateway_app.services.memory.stores import MemoryStoreService
from gateway_app.services.memory.vectors import memory_hash, scope_of, scope_where, vector_metadata
from gateway_app.services.tracing import LlmTrace, TraceRecorder, automatic_event_id
from gateway_app.services.vector.chroma_layer import VectorLayer
from gateway_app.services.vector.embedder import MAX_QUERY_CHARS, Embedder
from gateway_app.services.vector.filters import check_attributes
from gateway_app.services.vector.search import int_param

FILTERED_POOL = 1000  # candidates Chroma ranks when metadata filters then pick among them
LIST_SCAN = 5000  # rows a filtered list reads at most per page
SWEEP_SECONDS = 300.0


def _ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def public(record: MemoryRecord, score: float | None = None) -> dict:
    """A memory as clients see it."""
    out = {"id": record.id, "object": "memory", "memory": record.text, "hash": record.hash,
           "user_id": record.user_id or None, "agent_id": record.agent_id or None, "run_id": record.run_id or None,
           "metadata": record.metadata, "created_at": _ts(record.created_at), "updated_at": _ts(record.updated_at),
           "expires_at": _ts(record.expires_at)}
    if score is not None:
        out["score"] = score
    return out


def public_event(event: MemoryEventRecord) -> dict:
    """A history event as clients see it."""
    return {"id": event.id, "object": "memory.event", "memory_id": event.memory_id, "event": event.event,
            "old_memory": event.old_text, "new_memory": event.new_text, "actor": event.actor,
            "created_at": event.at.timestamp()}


def public_job(job) -> dict:
    """An asynchronous add as clients poll it."""
    return {"id": job.id, "object": "memory.add_job", "status": job.status, "results": job.results,
            "error": job.error, "created_at": _ts(job.created_at), "completed_at": _ts(job.completed_at)}


def _threshold(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput("'threshold' must be a number between 0 and 1", param="threshold")
    return float(value)


class MemoryService:
    """Memories of a tenant's stores, for API tokens and console users alike (identity decides usage)."""

    def __init__(self, store: DataStore, stores: MemoryStoreService, layer: VectorLayer, embedder: Embedder,
                 writer: MemoryWriter, jobs: AddJobs, traces: TraceRecorder) -> None:
        self._store = store
        self._stores = stores
        self._layer = layer
        self._embedder = embedder
        self.writer = writer
        self.jobs = jobs
        self._traces = traces
        self._active: set[str] = set()  # tenants whose memories this process touched (expiry sweeps them)
        self._swept = time.monotonic()

    def now(self) -> datetime:
        """The writer's clock (tests move it to see memories expire)."""
        return self.writer.clock()

    async def store_for(self, identity: ClientIdentity, ref: str) -> MemoryStoreRecord:
        identity.require_feature("memory")
        self._active.add(identity.tenant_slug)
        return await self._stores.store(identity.tenant_slug, ref)

    def _tenant(self, identity: ClientIdentity):
        return self._store.tenant(identity.tenant_slug)

    # Adds -------------------------------------------------------------------------------------

    async def add(self, identity: ClientIdentity, ref: str, body: dict, trace: LlmTrace | None = None
                  ) -> tuple[int, dict]:
        """POST .../memories: (200, decisions), or (202, the job to poll) with `async: true`."""
        request = parse_add(body)
        wait = body.get("async", False)
        if not isinstance(wait, bool):
            raise InvalidInput("'async' must be true or false", param="async")
        store = await self.store_for(identity, ref)
        if not wait:
            return 200, await self.writer.add(identity, store, request, trace)
        job = await self.jobs.submit(identity.tenant_slug, store.id, identity.token_id,
                                     lambda: self.writer.add(identity, store, request, trace))
        return 202, public_job(job)

    async def job(self, identity: ClientIdentity, ref: str, job_id: str) -> dict:
        """GET .../add_jobs/{id}."""
        store = await self.store_for(identity, ref)

        def load():
            with self._tenant(identity) as uow:
                return uow.memory.get_job(job_id)

        job = await anyio.to_thread.run_sync(load)
        if job is None or job.store_id != store.id:
            raise NotFound(f"memory add job {job_id!r} not found", param="job_id")
        return public_job(job)

    # Reads ------------------------------------------------------------------------------------

    async def search(self, identity: ClientIdentity, ref: str, body: dict, trace: LlmTrace | None = None) -> dict:
        """POST .../memories/search: the scope's memories nearest the query, best first, with `score`."""
        store = await self.store_for(identity, ref)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"'query' must be a non-empty string of at most {MAX_QUERY_CHARS} characters",
                               param="query")
        scope = scope_of(body, required=True)
        top_k = int_param(body.get("top_k"), "top_k", 1, 100, store.top_k)
        threshold = _threshold(body.get("threshold"))
        check = compile_filters(body.get("filters"))
        started, started_wall = time.perf_counter(), precise_now()
        found = await self.ranked(identity, store, query, scope, top_k, threshold, check)
        results = [public(r, score) for r, score in found]
        if trace is not None:
            self._traces.record(identity.tenant_slug, TraceEvent(
                id=automatic_event_id(), session_id=trace.session_id, parent_id=trace.parent_id, type="retrieval",
                name=f"memory search {store.name}", input={"query": query, "scope": scope, "top_k": top_k},
                output={"memories": [{"id": r["id"], "score": r["score"]} for r in results]},
                metadata={"memory_store": store.name,
                          "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
                started_at=started_wall, ended_at=precise_now()))
        return {"object": "list", "results": results}

    async def ranked(self, identity: ClientIdentity, store: MemoryStoreRecord, query: str, scope: dict,
                     top_k: int, threshold: float = 0.0, check=None) -> list[tuple[MemoryRecord, float]]:
        """(memory, score) pairs of the scope for a query, best first (the records are the database's)."""
        if store.dimensions is None:
            return []  # nothing written yet
        vector = (await self._embedder.embed(identity, store.embedding_model, [query], "msq",
                                             memory_store=store.name))[0]
        if len(vector) != store.dimensions:
            raise InvalidInput(f"the embedding model {store.embedding_model!r} now returns {len(vector)} dimensions; "
                               f"memory store {store.name!r} holds {store.dimensions}", param="query")
        now = self.now()
        pool = FILTERED_POOL if check else top_k

        def run():
            hits = self._layer.query(identity.tenant_slug, store.id, vector, pool, scope_where(scope, now))
            with self._tenant(identity) as uow:
                return hits, uow.memory.memories_by_id([h.id for h in hits])

        hits, records = await anyio.to_thread.run_sync(run)
        out = []
        for hit in hits:
            record = records.get(hit.id)
            if record is None or (record.expires_at and record.expires_at <= now) or hit.score < threshold:
                continue
            if check is not None and not check(record.metadata):
                continue
            out.append((record, hit.score))
            if len(out) == top_k:
                break
        return out

    async def list(self, identity: ClientIdentity, ref: str, params: dict) -> dict:
        """GET .../memories: newest first (cursor pagination like OpenAI's lists), by scope and filters."""
        store = await self.store_for(identity, ref)
        scope = scope_of(params, required=False)
        limit = int_param(params.get("limit"), "limit", 1, 100, 20)
        order = params.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise InvalidInput("'order' must be asc or desc", param="order")
        check = compile_filters(params.get("filters"))
        return await anyio.to_thread.run_sync(self._list, identity.tenant_slug, store.id, scope, limit, order,
                                              params.get("after"), params.get("before"), check)

    def _list(self, tenant, store_id, scope, limit, order, after, before, check) -> dict:
        now, kept, scanned = self.now(), [], 0
        with self._store.tenant(tenant) as uow:
            while len(kept) <= limit and scanned < LIST_SCAN:
                page = uow.memory.list_memories(store_id, **scope, order=order, after=after, before=before,
                                                limit=200 if check else limit + 1)
                scanned += len(page)
                for record in page:
                    live = not (record.expires_at and record.expires_at <= now)
                    if live and (check is None or check(record.metadata)):
                        kept.append(record)
                if len(page) < (200 if check else limit + 1):
                    break
                after, before = (page[-1].id, None) if before is None else (None, page[-1].id)
        data = [public(r) for r in kept[:limit]]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": len(kept) > limit}

    def _live(self, uow, store: MemoryStoreRecord, memory_id: str) -> MemoryRecord:
        record = uow.memory.get_memory(memory_id)
        if record is None or record.store_id != store.id or (record.expires_at and record.expires_at <= self.now()):
            raise NotFound(f"memory {memory_id!r} not found", param="memory_id")
        return record

    async def get(self, identity: ClientIdentity, ref: str, memory_id: str) -> dict:
        """GET .../memories/{id}."""
        store = await self.store_for(identity, ref)

        def load():
            with self._tenant(identity) as uow:
                return self._live(uow, store, memory_id)

        return public(await anyio.to_thread.run_sync(load))

    async def history(self, identity: ClientIdentity, ref: str, memory_id: str) -> dict:
        """GET .../memories/{id}/history: every event, oldest first (also of a deleted memory)."""
        store = await self.store_for(identity, ref)

        def load():
            with self._tenant(identity) as uow:
                return [e for e in uow.memory.history(memory_id) if e.store_id == store.id]

        events = await anyio.to_thread.run_sync(load)
        if not events:
            raise NotFound(f"memory {memory_id!r} has no history in this store", param="memory_id")
        return {"object": "list", "data": [public_event(e) for e in events]}

    # Changes ----------------------------------------------------------------------------------

    async def update(self, identity: ClientIdentity, ref: str, memory_id: str, body: dict) -> dict:
        """PATCH .../memories/{id} `{text?, metadata?}`: a new text is re-embedded; history keeps the old."""
        store = await self.store_for(identity, ref)
        text, metadata = body.get("text"), body.get("metadata")
        if text is None and metadata is None:
            raise InvalidInput("send 'text' or 'metadata' to change", param="text")
        if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > MAX_FACT_CHARS):
            raise InvalidInput(f"'text' must be a non-empty string of at most {MAX_FACT_CHARS} characters",
                               param="text")
        metadata = check_attributes(metadata, "metadata") if metadata is not None else None

        def load():
            with self._tenant(identity) as uow:
                return self._live(uow, store, memory_id)

        current = await anyio.to_thread.run_sync(load)
        now = self.now()
        text = " ".join(text.split()) if text is not None else current.text
        changed = MemoryRecord(store_id=store.id, text=text, hash=memory_hash(text), user_id=current.user_id,
                               agent_id=current.agent_id, run_id=current.run_id,
                               metadata=current.metadata if metadata is None else metadata,
                               expires_at=self.writer.expiry(store, now) or current.expires_at, id=current.id,
                               created_at=current.created_at, updated_at=now)
        vector = (await self.writer.embed(identity, store, [text]))[0] if text != current.text else None

        def write():
            if vector is not None:
                self._layer.upsert(identity.tenant_slug, store.id, [changed.id], [vector], [text],
                                   [vector_metadata(changed)])
            with self._tenant(identity) as uow:
                uow.memory.update_memory(changed.id, {"text": text, "hash": changed.hash, "metadata": changed.metadata,
                                                      "expires_at": changed.expires_at, "updated_at": now})
                uow.memory.add_events([MemoryEventRecord(store.id, changed.id, "UPDATE", current.text, text,
                                                         actor_of(identity), current.user_id)])
                uow.commit()

        await anyio.to_thread.run_sync(write)
        return public(changed)

    async def delete(self, identity: ClientIdentity, ref: str, memory_id: str) -> dict:
        """DELETE .../memories/{id}: the record and vector go, the history keeps the text it had."""
        store = await self.store_for(identity, ref)

        def remove():
            with self._tenant(identity) as uow:
                current = self._live(uow, store, memory_id)
                uow.memory.delete_memory(memory_id)
                uow.memory.add_events([MemoryEventRecord(store.id, memory_id, "DELETE", current.text, None,
                                                         actor_of(identity), current.user_id)])
                uow.commit()
            self._layer.delete_ids(identity.tenant_slug, store.id, [memory_id])

        await anyio.to_thread.run_sync(remove)
        return {"id": memory_id, "object": "memory.deleted", "deleted": True}

    async def forget(self, identity: ClientIdentity, ref: str, user_id: object) -> dict:
        """DELETE .../memories?user_id=...: the user's memories and vectors go; their history keeps only a
        FORGET event per memory (no text)."""
        store = await self.store_for(identity, ref)
        if not isinstance(user_id, str) or not user_id:
            raise InvalidInput("forgetting needs the 'user_id' whose memories go", param="user_id")

        def remove() -> int:
            with self._tenant(identity) as uow:
                ids = uow.memory.delete_user(store.id, user_id)
                # Memories deleted earlier lose their texts too, and keep that a deletion happened.
                live = set(ids)
                earlier = [i for i in uow.memory.delete_user_history(store.id, user_id) if i not in live]
                uow.memory.add_events([MemoryEventRecord(store.id, i, "FORGET", None, None, actor_of(identity),
                                                         user_id) for i in [*ids, *earlier]])
                uow.commit()
            self._layer.delete_where(identity.tenant_slug, store.id, {"user_id": user_id})
            return len(ids)

        deleted = await anyio.to_thread.run_sync(remove)
        return {"object": "memory.forgotten", "user_id": user_id, "deleted": deleted}

    # Expiry -----------------------------------------------------------------------------------

    def purge_expired(self, tenant: str) -> int:
        """Delete the tenant's memories past their retention (history keeps an EXPIRE event with the text)."""
        now, total = self.now(), 0
        while True:
            with self._store.tenant(tenant) as uow:
                expired = uow.memory.expired(now)
                for record in expired:
                    uow.memory.delete_memory(record.id)
                uow.memory.add_events([MemoryEventRecord(r.store_id, r.id, "EXPIRE", r.text, None, "system",
                                                         r.user_id) for r in expired])
                uow.commit()
            by_store: dict[str, list[str]] = {}
            for record in expired:
                by_store.setdefault(record.store_id, []).append(record.id)
            for store_id, ids in by_store.items():
                self._layer.delete_ids(tenant, store_id, ids)
            total += len(expired)
            if len(expired) < 500:
                return total

    def sweep(self) -> int:
        """Housekeeping (every SWEEP_SECONDS): expired memories and lost jobs of the tenants this process served."""
        if time.monotonic() - self._swept < SWEEP_SECONDS:
            return 0
        self._swept, done = time.monotonic(), 0
        for tenant in list(self._active):
            try:
                done += self.purge_expired(tenant) + self.jobs.fail_stale(tenant)
            except Exception:  # noqa: BLE001 - a deleted tenant is dropped from the set
                self._active.discard(tenant)
        return done

    async def overview(self, identity: ClientIdentity, ref: str, days: int = 14) -> dict:
        """A store's counters per day and the users, agents and runs it holds memories of (console)."""
        store = await self.store_for(identity, ref)

        def load() -> dict:
            with self._tenant(identity) as uow:
                scopes = {key: uow.memory.scope_values(store.id, key) for key in ("user_id", "agent_id", "run_id")}
                total = uow.memory.count_memories(store.id)
            return {"store": store.name, "memories": total, "users": scopes["user_id"],
                    "agents": scopes["agent_id"], "runs": scopes["run_id"],
                    "days": self.stats(identity.tenant_slug, store.id, days)}

        return await anyio.to_thread.run_sync(load)

    def stats(self, tenant: str, store_id: str, days: int = 14) -> list[dict]:
        """Per day: memories added, updated and deleted (history) and searches (usage), oldest first."""
        since = (datetime.now(UTC) - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        with self._store.tenant(tenant) as uow:
            record = uow.memory.get(store_id)
            events = uow.memory.daily_events(store_id, since)
            searches = uow.usage.daily_counts(since, memory_store=record.name, request_prefix="msq") \
                if record else {}
        out = []
        for n in range(days):
            day = (since + timedelta(days=n)).strftime("%Y-%m-%d")
            kinds = events.get(day, {})
            out.append({"day": day, "adds": kinds.get("ADD", 0), "updates": kinds.get("UPDATE", 0),
                        "deletes": sum(kinds.get(k, 0) for k in ("DELETE", "FORGET", "EXPIRE")),
                        "searches": searches.get(day, 0)})
        return out
