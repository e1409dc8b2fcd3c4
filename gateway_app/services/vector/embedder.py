"""Embeddings for vector stores, through the inference service (quotas, retries, fallbacks, usage)."""

from __future__ import annotations

import orjson

from gateway_app.core.errors import GatehouseError, InvalidInput
from gateway_app.core.ids import fast_id
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import InferenceService

BATCH_INPUTS = 64  # texts per embedding call
MAX_QUERY_CHARS = 8_000


class EmbeddingFailed(GatehouseError):
    """The embedding model failed or answered something unusable."""

    code = "server_error"
    status = 502


class Embedder:
    """Turns texts into vectors with one of the tenant's embedding models."""

    def __init__(self, inference: InferenceService) -> None:
        self._inference = inference

    async def embed(self, identity: ClientIdentity, model: str, texts: list[str], purpose: str, *,
                    rag_module: str = "", memory_store: str = "") -> list[list[float]]:
        """One vector per text, in order, in calls of BATCH_INPUTS."""
        vectors: list[list[float]] = []
        for i in range(0, len(texts), BATCH_INPUTS):
            part = texts[i:i + BATCH_INPUTS]
            done = await self._inference.embeddings(identity, {"model": model, "input": part},
                                                    request_id=fast_id(purpose), rag_module=rag_module,
                                                    memory_store=memory_store)
            try:
                data = sorted(orjson.loads(done.body)["data"], key=lambda d: d["index"])
                got = [[float(x) for x in d["embedding"]] for d in data]
            except (ValueError, KeyError, TypeError):
                raise EmbeddingFailed(f"the embedding model {model!r} answered without usable embeddings") from None
            if len(got) != len(part) or any(not v for v in got):
                raise EmbeddingFailed(f"the embedding model {model!r} returned {len(got)} embeddings for "
                                      f"{len(part)} texts")
            vectors += got
        return vectors

    async def embed_query(self, identity: ClientIdentity, model: str, query: object, *,
                          rag_module: str = "") -> list[float]:
        """The vector of a search query (a string, or several joined)."""
        if isinstance(query, list) and query and all(isinstance(q, str) for q in query):
            query = "\n".join(query)
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("'query' must be a non-empty string or list of strings", param="query")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"'query' is longer than {MAX_QUERY_CHARS} characters", param="query")
        return (await self.embed(identity, model, [query], "vsq", rag_module=rag_module))[0]
