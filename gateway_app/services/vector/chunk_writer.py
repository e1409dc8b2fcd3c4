"""The write stage of ingestion: embedded files go to Chroma in merged batches while the next files embed.

Chroma's embedded upsert costs about 1.5 ms a chunk in batches of one file (~40 chunks) and half
that in batches of 1,000, and it held the ingestion workers as long as the embedding call did.
Here the workers hand each embedded file to one writer task and go on embedding; the writer takes
whatever has accumulated (up to MAX_WRITE_CHUNKS), writes it per store in one upsert and
completes those files' rows in one transaction per store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from gateway_app.core.background import stop_tasks
from gateway_app.core.logging import get_logger
from gateway_app.services.vector.chroma_layer import VectorLayer

log = get_logger("vector")
MAX_WRITE_CHUNKS = 1000  # chunks merged into one write
# Embedded chunks waiting for the writer before the workers wait too: a full next write (Chroma's
# cost per chunk falls with the batch; four files of ~40 chunks gave 1,230-1,280 chunks/s at zero
# upstream latency, this 1,570-1,660), and a bound on the vectors held (~50 MB at 1,536 dimensions).
WAITING_CHUNKS = MAX_WRITE_CHUNKS


@dataclass(slots=True)
class Embedded:
    """One file's chunks with their vectors, ready to write."""

    tenant: str
    store_id: str
    file_id: str
    ids: list[str]
    texts: list[str]
    vectors: list[list[float]]
    metadatas: list[dict]
    stale: bool  # older chunks of this file may be in the store: delete them first
    dims: int
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = sum(len(t.encode()) for t in self.texts)


Complete = Callable[[str, str, list[Embedded]], None]  # tenant, store id, files written
Fail = Callable[[Embedded, str, str], None]  # file, error code, message
Release = Callable[[Embedded], None]  # file whose lease is given back (stopping)


class ChunkWriter:
    """One task writing what the ingestion workers embedded."""

    def __init__(self, layer: VectorLayer, complete: Complete, fail: Fail, release: Release) -> None:
        self._layer = layer
        self._complete = complete
        self._fail = fail
        self._release = release
        self._queue: asyncio.Queue[Embedded] | None = None
        self._room: asyncio.Event | None = None  # set when chunks left the queue; made in the loop, like it
        self._waiting_chunks = 0
        self._task: asyncio.Task | None = None
        self.writes = 0  # Chroma upserts made (merged batches)

    def _items(self) -> asyncio.Queue[Embedded]:
        if self._queue is None:
            self._queue, self._room = asyncio.Queue(), asyncio.Event()
        return self._queue

    def waiting(self) -> int:
        """Embedded files not written yet."""
        return self._items().qsize()

    async def put(self, item: Embedded) -> None:
        """Hand a file over (waits while WAITING_CHUNKS are waiting: the workers slow to the writer's pace;
        a file larger than that goes alone)."""
        queue = self._items()
        # One loop: nothing between the check and the count awaits, and a cancelled wait changed nothing.
        while self._waiting_chunks and self._waiting_chunks + len(item.ids) > WAITING_CHUNKS:
            self._room.clear()
            await self._room.wait()
        self._waiting_chunks += len(item.ids)
        queue.put_nowait(item)

    def _taken(self, items: list[Embedded]) -> None:
        """Items left the queue (no await: a cancel cannot fall between taking them and writing them)."""
        self._waiting_chunks -= sum(len(item.ids) for item in items)
        self._room.set()

    def start(self) -> None:
        """Start the writer task (in the running loop)."""
        self._task = asyncio.create_task(self._run(self._items()), name="vector-chunk-writer")

    async def stop(self) -> None:
        """Finish the write under way; files still waiting give their lease back and resume at the next start."""
        await stop_tasks([self._task])
        self._task = None
        queue = self._items()
        while not queue.empty():
            item = queue.get_nowait()
            self._taken([item])
            await anyio.to_thread.run_sync(self._release, item)

    async def _run(self, queue: asyncio.Queue[Embedded]) -> None:
        while True:
            items = [await queue.get()]
            chunks = len(items[0].ids)
            while chunks < MAX_WRITE_CHUNKS and not queue.empty():
                items.append(queue.get_nowait())
                chunks += len(items[-1].ids)
            self._taken(items)  # the workers embed the next ones meanwhile
            try:
                # Not abandoned on cancel: a stop waits for this write and its rows to finish.
                await anyio.to_thread.run_sync(self._write_all, items)
            except Exception:  # noqa: BLE001 - the rows say what happened; the writer goes on
                log.exception("vector chunk write failed")

    def _write_all(self, items: list[Embedded]) -> None:
        groups: dict[tuple[str, str], list[Embedded]] = {}
        for item in items:
            groups.setdefault((item.tenant, item.store_id), []).append(item)
        for (tenant, store_id), group in groups.items():
            written = self._write(tenant, store_id, group)
            if written:
                self._complete(tenant, store_id, written)

    def _write(self, tenant: str, store_id: str, group: list[Embedded]) -> list[Embedded]:
        try:
            self._upsert(tenant, store_id, group)
            return group
        except Exception:  # noqa: BLE001 - find the file that cannot be written, keep the others
            if len(group) == 1:
                log.exception("vector chunk write failed", extra={"tenant": tenant, "file_id": group[0].file_id})
                self._fail(group[0], "server_error", "the file's chunks could not be written to the vector store")
                return []
        written = []
        for item in group:
            written += self._write(tenant, store_id, [item])
        return written

    def _upsert(self, tenant: str, store_id: str, group: list[Embedded]) -> None:
        for item in group:
            if item.stale:  # a delete by metadata costs as much as the write: only when something may be left
                self._layer.delete_file(tenant, store_id, item.file_id)
        self._layer.upsert(tenant, store_id, [i for item in group for i in item.ids],
                           [v for item in group for v in item.vectors], [t for item in group for t in item.texts],
                           [m for item in group for m in item.metadatas])
        self.writes += 1
