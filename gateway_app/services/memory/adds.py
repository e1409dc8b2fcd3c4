"""Adding memories: facts from the extraction model (or the text as given), exact duplicates caught by hash,
near duplicates by similarity, the rest decided by the model; every decision returned and kept in history."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio

from gateway_app.core.errors import InvalidInput
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import MemoryEventRecord, MemoryRecord, MemoryStoreRecord, TraceEvent, precise_now
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.memory.extraction import MAX_FACT_CHARS, Decision, ExtractionFailed, Extractor
from gateway_app.services.memory.stores import MemoryStoreService
from gateway_app.services.memory.vectors import memory_hash, scope_of, scope_where, vector_metadata
from gateway_app.services.rag.answers import child_trace
from gateway_app.services.tracing import LlmTrace, TraceRecorder, automatic_event_id
from gateway_app.services.vector.chroma_layer import VectorLayer
from gateway_app.services.vector.embedder import Embedder
from gateway_app.services.vector.filters import check_attributes

CANDIDATES = 5  # existing memories compared with each new fact
MAX_MESSAGES = 100
MAX_CONVERSATION_CHARS = 50_000
ROLES = ("user", "assistant", "system", "developer", "tool")


@dataclass(slots=True)
class AddRequest:
    """A checked add: the conversation or the texts, the scope and the metadata."""

    scope: dict[str, str]
    messages: list[dict] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    infer: bool = True


def _content(message: object) -> dict:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise InvalidInput(f"each message needs a 'role' ({', '.join(ROLES)}) and a 'content'", param="messages")
    content = message.get("content")
    if isinstance(content, list):  # OpenAI's content parts: the text parts count
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise InvalidInput("a message's 'content' must be a string or a list of text parts", param="messages")
    return {"role": message["role"], "content": content}


def parse_add(body: dict) -> AddRequest:
    """An add request's body, checked: bad input is a 400 naming the field, before any model call."""
    scope = scope_of(body, required=True)
    infer = body.get("infer", True)
    if not isinstance(infer, bool):
        raise InvalidInput("'infer' must be true or false", param="infer")
    metadata = check_attributes(body.get("metadata"), "metadata")
    messages, text = body.get("messages"), body.get("text")
    if (messages is None) == (text is None):
        raise InvalidInput("send either 'messages' (a conversation) or 'text'", param="messages")
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("'text' must be a non-empty string", param="text")
        messages = [{"role": "user", "content": text}]
    if not isinstance(messages, list) or not messages or len(messages) > MAX_MESSAGES:
        raise InvalidInput(f"'messages' must be a list of 1-{MAX_MESSAGES} chat messages", param="messages")
    checked = [m for m in map(_content, messages) if m["content"].strip()]
    if not checked:
        raise InvalidInput("the messages hold no text", param="messages")
    if sum(len(m["content"]) for m in checked) > MAX_CONVERSATION_CHARS:
        raise InvalidInput(f"the conversation is longer than {MAX_CONVERSATION_CHARS} characters", param="messages")
    texts = []
    if not infer:  # stored as given: each user or assistant message is one memory
        texts = [" ".join(m["content"].split()) for m in checked if m["role"] in ("user", "assistant")]
        if any(len(t) > MAX_FACT_CHARS for t in texts):
            raise InvalidInput(f"a memory is at most {MAX_FACT_CHARS} characters", param="text")
    return AddRequest(scope=scope, messages=checked, texts=texts, metadata=metadata, infer=infer)


def actor_of(identity: ClientIdentity) -> str:
    """Who made a change, as history names it."""
    return identity.token_id if ":" in identity.token_id else f"token:{identity.token_id}"


@dataclass(slots=True)
class _Plan:
    adds: list[MemoryRecord] = field(default_factory=list)
    updates: list[MemoryRecord] = field(default_factory=list)
    deletes: list[MemoryRecord] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)


class MemoryWriter:
    """Turns an add request into decisions and applies them: Chroma, then the tenant database, in that order
    (a vector without its record is never returned; a record without its vector is never found)."""

    def __init__(self, store: DataStore, stores: MemoryStoreService, layer: VectorLayer, embedder: Embedder,
                 extractor: Extractor, traces: TraceRecorder, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._stores = stores
        self._layer = layer
        self._embedder = embedder
        self._extractor = extractor
        self._traces = traces
        self.clock = clock

    def expiry(self, store: MemoryStoreRecord, now: datetime) -> datetime | None:
        """When a memory written now expires."""
        return now + timedelta(days=store.retention_days) if store.retention_days else None

    async def embed(self, identity: ClientIdentity, store: MemoryStoreRecord, texts: list[str]) -> list[list[float]]:
        """Vectors for memory texts with the store's embedding model (its dimensions fixed by the first)."""
        vectors = await self._embedder.embed(identity, store.embedding_model, texts, "mem", memory_store=store.name)
        dims = len(vectors[0])
        if store.dimensions is None:
            await anyio.to_thread.run_sync(self._stores.fix_dimensions, identity.tenant_slug, store, dims)
        elif dims != store.dimensions:
            raise ExtractionFailed(f"the embedding model {store.embedding_model!r} now returns {dims} dimensions; "
                                   f"memory store {store.name!r} holds {store.dimensions}")
        return vectors

    async def add(self, identity: ClientIdentity, store: MemoryStoreRecord, request: AddRequest,
                  trace: LlmTrace | None = None) -> dict:
        """Decide and apply; the answer lists every decision (`results`) and, with infer, the facts."""
        started, started_wall = time.perf_counter(), precise_now()
        try:
            answer = await self._add(identity, store, request, trace)
        except Exception as exc:
            self._trace(identity, store, trace, request, {"error": str(getattr(exc, "message", exc))}, started,
                        started_wall)
            raise
        self._trace(identity, store, trace, request, answer, started, started_wall)
        return answer

    async def _add(self, identity: ClientIdentity, store: MemoryStoreRecord, request: AddRequest,
                   trace: LlmTrace | None) -> dict:
        facts = (await self._extractor.facts(identity, store, request.messages, child_trace(trace))
                 if request.infer else request.texts)
        unique: dict[str, str] = {}
        for fact in facts:
            unique.setdefault(memory_hash(fact), fact)
        scope = request.scope
        key = (scope.get("user_id", ""), scope.get("agent_id", ""), scope.get("run_id", ""))

        def known() -> dict[str, MemoryRecord | None]:
            with self._store.tenant(identity.tenant_slug) as uow:
                return {h: uow.memory.find_hash(store.id, h, *key) for h in unique}

        plan = _Plan()
        pending: list[tuple[str, str]] = []
        for h, existing in (await anyio.to_thread.run_sync(known)).items():
            if existing is not None and not self._expired(existing):
                plan.results.append({"id": existing.id, "memory": existing.text, "event": "NONE",
                                     "fact": unique[h], "reason": "the same text is already stored"})
            else:
                pending.append((unique[h], h))
        if pending:
            vectors = await self.embed(identity, store, [f for f, _ in pending])
            decisions, candidates = await self._decisions(identity, store, request, pending, vectors, plan, trace)
            await self._apply(identity, store, request, pending, vectors, decisions, candidates, plan)
        answer: dict = {"results": plan.results}
        if request.infer:
            answer["facts"] = facts
            if not facts:
                answer["message"] = "the extraction model found nothing worth remembering in these messages"
        return answer

    def _expired(self, record: MemoryRecord) -> bool:
        return record.expires_at is not None and record.expires_at <= self.clock()

    async def _decisions(self, identity, store, request, pending, vectors, plan, trace
                         ) -> tuple[list[Decision | None], list[MemoryRecord]]:
        """A decision per pending fact (None: a near duplicate, already answered NONE), and the numbered
        existing memories the decisions refer to."""
        if not request.infer:
            return [Decision(i, "ADD") for i in range(len(pending))], []
        where = scope_where(request.scope, self.clock())

        def similar() -> tuple[list[list], dict[str, MemoryRecord]]:
            hits = [self._layer.query(identity.tenant_slug, store.id, v, CANDIDATES, where) for v in vectors]
            with self._store.tenant(identity.tenant_slug) as uow:
                records = uow.memory.memories_by_id({h.id for found in hits for h in found})
            return hits, records

        hits, records = await anyio.to_thread.run_sync(similar)
        candidates: dict[str, MemoryRecord] = {}  # by id, in first-seen order: numbered for the model
        asked: list[int] = []
        decisions: list[Decision | None] = [None] * len(pending)
        for i, found in enumerate(hits):
            live = [(h.score, records[h.id]) for h in found if h.id in records and not self._expired(records[h.id])]
            if live and live[0][0] >= store.similarity_threshold:
                best = live[0][1]
                plan.results.append({"id": best.id, "memory": best.text, "event": "NONE", "fact": pending[i][0],
                                     "reason": f"similar to a stored memory (score {live[0][0]:.3f})"})
                continue
            if not live:
                decisions[i] = Decision(i, "ADD")
                continue
            asked.append(i)
            for _, record in live:
                candidates.setdefault(record.id, record)
        numbered = list(candidates.values())
        if asked:
            decided = await self._extractor.decide(identity, store, [pending[i][0] for i in asked],
                                                   [c.text for c in numbered], child_trace(trace))
            for n, decision in zip(asked, decided, strict=True):
                decisions[n] = Decision(n, decision.event, decision.memory, decision.text)
        return decisions, numbered

    async def _apply(self, identity, store, request, pending, vectors, decisions, candidates, plan) -> None:
        now = self.clock()
        expires = self.expiry(store, now)
        actor = actor_of(identity)
        if request.infer:
            actor = f"{actor} (model {store.extraction_model})"
        touched: set[str] = set()
        events: list[MemoryEventRecord] = []
        upserts: list[tuple[MemoryRecord, list[float] | None]] = []
        scope = request.scope
        for i, decision in enumerate(decisions):
            if decision is None:
                continue
            fact = pending[i][0]
            target = candidates[decision.memory] if decision.memory is not None else None
            event = decision.event
            if target is not None and target.id in touched and event in ("UPDATE", "DELETE"):
                # Two facts never both rewrite or remove one memory (duplicates must not delete each other).
                event = "ADD" if event == "UPDATE" else "NONE"
            if event == "ADD":
                text = fact if decision.event == "ADD" else (decision.text or fact)  # a second UPDATE's text
                record = MemoryRecord(store_id=store.id, text=text, hash=memory_hash(text),
                                      user_id=scope.get("user_id", ""), agent_id=scope.get("agent_id", ""),
                                      run_id=scope.get("run_id", ""), metadata=request.metadata, expires_at=expires,
                                      created_at=now, updated_at=now)
                upserts.append((record, vectors[i] if text == fact else None))
                plan.adds.append(record)
                events.append(MemoryEventRecord(store.id, record.id, "ADD", None, text, actor, record.user_id))
                plan.results.append({"id": record.id, "memory": text, "event": "ADD"})
            elif event == "UPDATE" and target is not None:
                touched.add(target.id)
                new = MemoryRecord(store_id=store.id, text=decision.text, hash=memory_hash(decision.text),
                                   user_id=target.user_id, agent_id=target.agent_id, run_id=target.run_id,
                                   metadata={**target.metadata, **request.metadata}, expires_at=expires, id=target.id,
                                   created_at=target.created_at, updated_at=now)
                upserts.append((new, vectors[i] if decision.text == fact else None))
                plan.updates.append(new)
                events.append(MemoryEventRecord(store.id, target.id, "UPDATE", target.text, decision.text, actor,
                                                target.user_id))
                plan.results.append({"id": target.id, "memory": decision.text, "event": "UPDATE",
                                     "previous_memory": target.text, "fact": fact})
            elif event == "DELETE" and target is not None:
                touched.add(target.id)
                plan.deletes.append(target)
                events.append(MemoryEventRecord(store.id, target.id, "DELETE", target.text, None, actor,
                                                target.user_id))
                plan.results.append({"id": target.id, "memory": target.text, "event": "DELETE", "fact": fact})
            else:
                plan.results.append({"id": target.id if target else None, "memory": target.text if target else fact,
                                     "event": "NONE", "fact": fact})
        missing = [r.text for r, v in upserts if v is None]
        extra = iter(await self.embed(identity, store, missing)) if missing else iter(())
        upserts = [(r, v if v is not None else next(extra)) for r, v in upserts]
        await self._write(identity.tenant_slug, store, upserts, plan, events)

    async def _write(self, tenant: str, store: MemoryStoreRecord, upserts, plan: _Plan,
                     events: list[MemoryEventRecord]) -> None:
        def write() -> None:
            if upserts:
                self._layer.upsert(tenant, store.id, [r.id for r, _ in upserts], [v for _, v in upserts],
                                   [r.text for r, _ in upserts], [vector_metadata(r) for r, _ in upserts])
            with self._store.tenant(tenant) as uow:
                for record in plan.adds:
                    uow.memory.add_memory(record)
                for record in plan.updates:
                    uow.memory.update_memory(record.id, {"text": record.text, "hash": record.hash,
                                                         "metadata": record.metadata, "expires_at": record.expires_at,
                                                         "updated_at": record.updated_at})
                for record in plan.deletes:
                    uow.memory.delete_memory(record.id)
                if events:
                    uow.memory.add_events(events)
                uow.commit()
            if plan.deletes:
                self._layer.delete_ids(tenant, store.id, [r.id for r in plan.deletes])

        await anyio.to_thread.run_sync(write)

    def _trace(self, identity, store, trace, request, output, started, started_wall) -> None:
        """The `memory add` event of the caller's trace session (x-session-id)."""
        if trace is None:
            return
        self._traces.record(identity.tenant_slug, TraceEvent(
            id=automatic_event_id(), session_id=trace.session_id, parent_id=trace.parent_id, type="custom",
            name=f"memory add {store.name}", status="error" if "error" in output else "ok",
            input={"scope": request.scope, "infer": request.infer, "messages": len(request.messages)},
            output=output, metadata={"memory_store": store.name,
                                     "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
            started_at=started_wall, ended_at=precise_now()))
