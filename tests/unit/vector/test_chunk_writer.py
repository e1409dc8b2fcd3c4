"""The chunk writer: embedded files wait for it up to WAITING_CHUNKS, merge into writes, none lost."""

from __future__ import annotations

import asyncio
import threading

from gateway_app.services.vector.chroma_layer import VectorLayer
from gateway_app.services.vector.chunk_writer import MAX_WRITE_CHUNKS, WAITING_CHUNKS, ChunkWriter, Embedded


class GatedLayer(VectorLayer):
    """Embedded Chroma whose writes wait for the test to open a gate (to hold the writer mid-write)."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.writing = threading.Event()
        self.batches: list[int] = []

    def upsert(self, tenant, store_id, ids, embeddings, texts, metadatas) -> None:
        self.writing.set()
        self.gate.wait(30)
        self.batches.append(len(ids))
        super().upsert(tenant, store_id, ids, embeddings, texts, metadatas)


def _file(file_id: str, chunks: int) -> Embedded:
    return Embedded(tenant="acme", store_id="vs_1", file_id=file_id,
                    ids=[f"{file_id}-{i}" for i in range(chunks)], texts=[f"text {i}" for i in range(chunks)],
                    vectors=[[1.0, float(i % 7), 0.5] for i in range(chunks)], metadatas=[{"file_id": file_id}] * chunks,
                    stale=False, dims=3)


async def test_files_wait_for_room_then_merge_and_every_chunk_is_written(tmp_path):
    assert WAITING_CHUNKS == MAX_WRITE_CHUNKS
    layer = GatedLayer(tmp_path / "vectors")
    completed: list[str] = []
    writer = ChunkWriter(layer, lambda tenant, store, files: completed.extend(f.file_id for f in files),
                         lambda *a: None, lambda *a: None)
    writer.start()
    half = WAITING_CHUNKS // 2
    await writer.put(_file("a", half))  # taken at once: the writer holds it at the gate
    await asyncio.to_thread(layer.writing.wait, 10)
    await writer.put(_file("b", half))
    await writer.put(_file("c", half))  # b and c fill the room exactly
    late = asyncio.create_task(writer.put(_file("d", 10)))
    await asyncio.sleep(0.2)
    assert not late.done(), "a worker waits while WAITING_CHUNKS embedded chunks wait for the writer"
    assert writer.waiting() == 2

    layer.gate.set()
    await asyncio.wait_for(late, 10)
    await asyncio.wait_for(writer.put(_file("big", WAITING_CHUNKS + 200)), 10)  # larger than the room: alone
    for _ in range(200):
        if len(completed) == 5:
            break
        await asyncio.sleep(0.05)
    await writer.stop()
    assert sorted(completed) == ["a", "b", "big", "c", "d"]
    assert layer.count("acme", "vs_1") == 3 * half + 10 + WAITING_CHUNKS + 200
    assert layer.batches[:2] == [half, 2 * half], "b and c, waiting together, went in one write"
