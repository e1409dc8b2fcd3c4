"""Memory stores: long-term memories of agents with transparent decisions and semantic search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gateway_app.core.invalidation import Generation
from gateway_app.db.protocols import DataStore
from gateway_app.services.inference.gateway import InferenceService
from gateway_app.services.memory.adds import MemoryWriter
from gateway_app.services.memory.chat import MemoryChat
from gateway_app.services.memory.extraction import Extractor
from gateway_app.services.memory.jobs import AddJobs
from gateway_app.services.memory.memories import MemoryService
from gateway_app.services.memory.stores import MemoryStoreService
from gateway_app.services.prompts import PromptRenderer
from gateway_app.services.tenant_access import TenantAccess
from gateway_app.services.tracing import TraceRecorder
from gateway_app.services.vector.embedder import Embedder


@dataclass(slots=True)
class MemoryParts:
    """The memory services a platform holds."""

    stores: MemoryStoreService
    memories: MemoryService
    chat: MemoryChat


def build_memory(store: DataStore, access: TenantAccess, generation: Generation, layer, embedder: Embedder,
                 inference: InferenceService, prompts: PromptRenderer, traces: TraceRecorder) -> MemoryParts:
    """Wire the memory services over the shared vector layer and inference."""
    stores = MemoryStoreService(store, access, generation, layer)
    writer = MemoryWriter(store, stores, layer, embedder, Extractor(inference, prompts), traces,
                          clock=lambda: datetime.now(UTC))
    memories = MemoryService(store, stores, layer, embedder, writer, AddJobs(store), traces)
    return MemoryParts(stores=stores, memories=memories, chat=MemoryChat(memories))
