"""Retrieval for RAG modules: search every store of a module, merge, rerank, and fit the context budget."""

from __future__ import annotations

import re
from dataclasses import dataclass

import anyio
import orjson

from gateway_app.core.errors import GatehouseError, InvalidInput, NotFound, Unavailable
from gateway_app.core.ids import fast_id
from gateway_app.core.logging import get_logger
from gateway_app.db.protocols import DataStore
from gateway_app.db.records import RagModuleRecord
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import Completed, InferenceService
from gateway_app.services.tracing import LlmTrace
from gateway_app.services.vector.chroma_layer import FILE_KEY, VectorLayer, attributes_of
from gateway_app.services.vector.chunking import count_tokens
from gateway_app.services.vector.embedder import MAX_QUERY_CHARS, Embedder
from gateway_app.services.vector.filters import to_where
from gateway_app.services.vector.search import file_names
from gateway_app.services.vector.stores import VectorStoreService

log = get_logger("rag")
RERANK_POOL = 3  # candidates per result asked for when a rerank model reorders them
RERANK_TEXT_CHARS = 600  # of each candidate, in the rerank prompt


@dataclass(slots=True)
class Citation:
    """One retrieved chunk, numbered as the answer cites it."""

    index: int
    vector_store_id: str
    file_id: str | None
    filename: str
    chunk_id: str
    score: float
    text: str
    attributes: dict

    def public(self) -> dict:
        """As returned to clients."""
        return {"index": self.index, "vector_store_id": self.vector_store_id, "file_id": self.file_id,
                "filename": self.filename, "chunk_id": self.chunk_id, "score": self.score, "text": self.text,
                "attributes": self.attributes}


class StoreUnavailable(Unavailable):
    """A store of the module cannot be searched: an error, never an ungrounded answer."""

    status = 503


def question_of(value: object, param: str = "query") -> str:
    """The question: a non-empty string of bounded size."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{param}' must be a non-empty string", param=param)
    if len(value) > MAX_QUERY_CHARS:
        raise InvalidInput(f"'{param}' is longer than {MAX_QUERY_CHARS} characters", param=param)
    return value.strip()


class Retriever:
    """Ranked chunks of a module's stores."""

    def __init__(self, store: DataStore, stores: VectorStoreService, layer: VectorLayer, embedder: Embedder,
                 inference: InferenceService) -> None:
        self._store = store
        self._stores = stores
        self._layer = layer
        self._embedder = embedder
        self._inference = inference

    async def retrieve(self, identity: ClientIdentity, module: RagModuleRecord, question: str, *,
                       top_k: int, filters: object, trace: LlmTrace | None = None) -> list[Citation]:
        """The module's best chunks for the question, best first, numbered from 1."""
        where = to_where(filters if filters is not None else module.filters)
        records = []
        for store_id in module.vector_store_ids:
            try:
                records.append(await anyio.to_thread.run_sync(self._stores.record, identity, store_id))
            except NotFound:
                raise StoreUnavailable(f"vector store {store_id!r} of RAG module {module.name!r} no longer exists; "
                                       "edit the module") from None
        vectors: dict[str, list[float]] = {}
        for record in records:  # one embedding call per distinct embedding model
            if record.embedding_model not in vectors:
                vectors[record.embedding_model] = await self._embedder.embed_query(
                    identity, record.embedding_model, question, rag_module=module.name)
        pool = top_k * RERANK_POOL if module.rerank_model else top_k

        def search():
            hits = []
            for record in records:
                if not record.dimensions:
                    continue  # nothing ingested yet
                vector = vectors[record.embedding_model]
                if len(vector) != record.dimensions:
                    raise StoreUnavailable(f"vector store {record.id!r} holds {record.dimensions} dimensions; its "
                                           f"embedding model now returns {len(vector)}")
                try:
                    found = self._layer.query(identity.tenant_slug, record.id, vector, min(pool, 50), where)
                except GatehouseError:
                    raise
                except Exception as exc:  # noqa: BLE001 - Chroma down or broken: say so, never answer ungrounded
                    log.warning("rag retrieval failed", extra={"store": record.id, "error": repr(exc)})
                    raise StoreUnavailable(f"vector store {record.id!r} of RAG module {module.name!r} cannot be "
                                           "searched right now; retry shortly") from None
                hits += [(record.id, h) for h in found]
            hits.sort(key=lambda pair: pair[1].score, reverse=True)
            with self._store.tenant(identity.tenant_slug) as uow:
                names = file_names(uow, {h.metadata.get(FILE_KEY) for _, h in hits if h.metadata.get(FILE_KEY)})
            return hits, names

        hits, names = await anyio.to_thread.run_sync(search)
        hits = [(s, h) for s, h in hits if h.score >= module.score_threshold][:pool]
        citations = [Citation(index=0, vector_store_id=store_id, file_id=h.metadata.get(FILE_KEY) or None,
                              filename=names.get(h.metadata.get(FILE_KEY), ""), chunk_id=h.id, score=h.score,
                              text=h.text, attributes=attributes_of(h.metadata)) for store_id, h in hits]
        if module.rerank_model and len(citations) > 1:
            citations = await self._rerank(identity, module, question, citations, trace)
        citations = citations[:top_k]
        for n, citation in enumerate(citations, start=1):
            citation.index = n
        return citations

    async def _rerank(self, identity: ClientIdentity, module: RagModuleRecord, question: str,
                      citations: list[Citation], trace: LlmTrace | None) -> list[Citation]:
        """The candidates in the order the rerank model gives (numbers it leaves out keep their rank after)."""
        listing = "\n\n".join(f"[{n}] {c.text[:RERANK_TEXT_CHARS]}" for n, c in enumerate(citations, start=1))
        messages = [
            {"role": "system", "content": "You rank passages by how well they answer a question. Reply with the "
                                          "passage numbers only, best first, as a JSON array, e.g. [3, 1, 2]."},
            {"role": "user", "content": f"Question: {question}\n\nPassages:\n{listing}"}]
        done = await self._inference.chat(identity, {"model": module.rerank_model, "messages": messages,
                                                     "temperature": 0}, fast_id("rrk"), trace,
                                            rag_module=module.name)
        try:
            content = orjson.loads(done.body)["choices"][0]["message"]["content"] or "" \
                if isinstance(done, Completed) else ""
        except (ValueError, KeyError, IndexError, TypeError):
            content = ""
        order: list[int] = []
        for number in re.findall(r"\d+", content[:2000]):
            n = int(number)
            if 1 <= n <= len(citations) and n not in order:
                order.append(n)
        if not order:
            log.warning("rerank answer had no passage numbers; retrieval order kept",
                        extra={"module": module.name, "model": module.rerank_model})
        rest = [n for n in range(1, len(citations) + 1) if n not in order]
        return [citations[n - 1] for n in order + rest]


def fit_context(citations: list[Citation], max_tokens: int) -> list[Citation]:
    """The leading citations whose text fits the module's context budget (at least the first)."""
    kept, used = [], 0
    for citation in citations:
        cost = count_tokens(citation.text) + 8
        if kept and used + cost > max_tokens:
            break
        kept.append(citation)
        used += cost
    return kept
