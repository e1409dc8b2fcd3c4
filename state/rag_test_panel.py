"""RAG page, the open module's panel: a question answered with citations (streamed), the module's recent
model calls from the usage log, and files uploaded into one of its stores with their ingestion status."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import time
from datetime import UTC, datetime

import orjson
import reflex as rx

from gateway_app.core.errors import AuthenticationFailed, GatehouseError, PermissionDenied, Unavailable
from gateway_app.core.ids import fast_id
from gateway_app.providers.sse import parse_sse
from state.base import counted, failure, in_thread, platform
from state.rag import RagState, StoreChoice

UI_INTERVAL = 0.05  # seconds between updates of the answer being streamed into the browser
RECENT = 10  # model calls listed under the panel
USAGE_POLL, USAGE_WAIT = 0.5, 8.0  # usage rows are written in batches (about a second): wait for them a while
INGEST_POLL = 1.0
MAX_UPLOAD_FILES = 20
RERANK_PREFIX = "rrk_"  # request ids of rerank calls (services/rag/retrieval.py): chat calls like the answer


@dataclasses.dataclass
class CitationRow:
    """One source of the answer, numbered as the answer cites it."""

    index: int = 0
    filename: str = ""
    score: str = ""
    text: str = ""
    file_id: str = ""
    store: str = ""
    chunk_id: str = ""
    attributes: str = ""


@dataclasses.dataclass
class RecentCall:
    """One model call the module made, from the usage log."""

    id: str = ""
    at: str = ""
    kind: str = ""
    model: str = ""
    status: int = 0
    error: str = ""
    latency: str = ""
    tokens: str = ""
    cost: str = ""


@dataclasses.dataclass
class UploadRow:
    """A file uploaded from the panel, and how its ingestion went."""

    file_id: str = ""
    filename: str = ""
    store_id: str = ""
    store: str = ""
    status: str = ""
    error: str = ""


def _citations_in(chunk: bytes) -> list[dict] | None:
    """The citations an SSE chunk carries (the first event of a module's stream), if any."""
    for event in chunk.split(b"\n\n") if b'"citations"' in chunk else ():
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(event.strip().removeprefix(b"data:"))
            if isinstance(parsed, dict) and isinstance(parsed.get("citations"), list):
                return parsed["citations"]
    return None


def _citation_rows(found: list[dict], names: dict[str, str]) -> list[CitationRow]:
    """The stream's citations as the panel lists them."""
    return [CitationRow(index=c["index"], filename=c["filename"] or c["file_id"] or "(record)",
                        score=f"{c['score']:.3f}", text=c["text"], file_id=c["file_id"] or "-",
                        store=names.get(c["vector_store_id"], c["vector_store_id"]), chunk_id=c["chunk_id"],
                        attributes=", ".join(f"{k}={v}" for k, v in (c.get("attributes") or {}).items()))
            for c in found]


def _explain(exc: Exception) -> tuple[str, str]:
    """A title and message for a failed question: the kind of failure first, then the service's words."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, Unavailable):
        return "Vector store unavailable", f"{message}. No answer was generated without its sources."
    if getattr(exc, "code", "") == "no_results":
        return "No results", (f"{message}. This module is set to fail when nothing matches: lower its score "
                              "threshold, add documents, or let it answer that it does not know.")
    if isinstance(exc, PermissionDenied):
        return "Not allowed", message
    if getattr(exc, "param", None):
        return f"Invalid {exc.param}", message  # type: ignore[attr-defined]
    return ("The question failed" if isinstance(exc, GatehouseError) else "Unexpected error"), message


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def _store_identity(jwt: str, tenant: str | None):
    """Who adds files to a store (the Vector stores page's identity, for writing)."""
    principal = await in_thread(platform().auth.authenticate, jwt)
    return await in_thread(platform().vector_stores.console_identity, principal, tenant, write=True)


def _recent_call(r) -> RecentCall:
    """A usage row as the panel's table shows it."""
    return RecentCall(id=r.id, at=r.at.strftime("%m-%d %H:%M:%S"), model=r.model, status=r.status,
                      kind="embedding" if r.kind == "embedding" else
                      "rerank" if r.request_id.startswith(RERANK_PREFIX) else "answer", error=r.error_type,
                      latency=f"{r.latency_ms:.0f}", tokens=f"{r.prompt_tokens} / {r.completion_tokens}",
                      cost=f"${r.cost_usd:.6f}")


class RagPanelState(RagState):
    """The open module's panel on /rag (the module itself is RagState.module)."""

    question: str = ""
    asked: str = ""
    answer: str = ""
    stats: str = ""
    citations: list[CitationRow] = []
    error_title: str = ""
    error: str = ""
    streaming: bool = False
    shown: int = 0  # the citation open in its dialog
    recent: list[RecentCall] = []
    recent_loaded: bool = False
    upload_store: str = ""  # picked by the user; module_store falls back to the module's first store
    uploading: bool = False
    uploads: list[UploadRow] = []

    @rx.var
    def shown_citation(self) -> CitationRow:
        """The citation open in its dialog."""
        return next((c for c in self.citations if c.index == self.shown), CitationRow())

    @rx.var
    def module_stores(self) -> list[StoreChoice]:
        """The open module's stores that still exist, in the module's order."""
        row = next((r for r in self.rows if r.name == self.module), None)
        names = {s.id: s.name for s in self.stores}
        return [StoreChoice(id=s, name=names[s]) for s in (row.store_ids if row else []) if s in names]

    @rx.var
    def module_store(self) -> str:
        """The store uploads go to."""
        ids = [s.id for s in self.module_stores]
        return self.upload_store if self.upload_store in ids else (ids[0] if ids else "")

    @rx.event
    def opened(self):
        """A module was opened: a fresh panel, with its recent calls."""
        self.question, self.asked, self.answer, self.stats, self.citations = "", "", "", "", []
        self.error_title, self.error, self.shown, self.upload_store, self.uploads = "", "", 0, "", []
        self.recent, self.recent_loaded = [], False
        return RagPanelState.load_recent("", "")

    # Recent calls -----------------------------------------------------------------------------

    @rx.event(background=True)
    async def load_recent(self, wait_for: str = "", since: str = ""):
        """The module's latest calls; after a question, read again until its answer's row (wait_for, a request
        id) or, when no answer was made, any row since the question (since, ISO time) has been written."""
        async with self:
            module, jwt, tenant = self.module, self.jwt, self.tenant_arg()
        after = datetime.fromisoformat(since) if since else None
        deadline = time.monotonic() + (USAGE_WAIT if wait_for or after else 0)
        while module:
            try:
                principal = await in_thread(platform().auth.authenticate, jwt)
                rows = await in_thread(platform().usage.recent, principal, tenant, rag_module=module, limit=RECENT)
            except GatehouseError as exc:
                yield failure(exc)
                return
            async with self:
                if self.module != module:
                    return
                self.recent, self.recent_loaded = [_recent_call(r) for r in rows], True
            landed = (any(r.request_id == wait_for for r in rows) if wait_for else
                      any(_utc(r.at) >= after for r in rows) if after else True)
            if landed or time.monotonic() >= deadline:
                return
            await asyncio.sleep(USAGE_POLL)

    # Asking -----------------------------------------------------------------------------------

    @rx.event
    def set_question(self, value: str):
        """The question being typed."""
        self.question = value

    @rx.event
    def show_citation(self, index: int):
        """Open a cited chunk (0 closes it)."""
        self.shown = index

    async def _show_while(self, done: asyncio.Event, parts: list[str]) -> None:
        """Show the answer so far every UI_INTERVAL until `done` (the caller shows the final text)."""
        shown = 0
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), UI_INTERVAL)
            if len(parts) != shown and not done.is_set():
                shown = len(parts)
                async with self:
                    self.answer = "".join(parts)

    @rx.event(background=True)
    async def ask(self, form: dict | None = None):
        """Ask the open module: citations as soon as retrieval is done, then the answer as it streams."""
        async with self:
            question = self.question.strip()
            if self.streaming or not question or not self.module:
                return
            self.streaming, self.asked, self.answer, self.stats = True, question, "", ""
            self.citations, self.shown, self.error_title, self.error = [], 0, "", ""
            module, jwt, tenant = self.module, self.jwt, self.tenant_arg()
            names = {s.id: s.name for s in self.stores}
        started, usage, cited, answered = time.perf_counter(), None, None, ""
        since, request_id = datetime.now(UTC).replace(microsecond=0), fast_id("rag")
        parts: list[str] = []  # the answer's pieces as they arrive
        try:
            principal = await in_thread(platform().auth.authenticate, jwt)
            identity = await in_thread(platform().rag_modules.console_identity, principal, tenant, write=True)
            outcome = await platform().rag.query(identity, module, {"query": question, "stream": True}, request_id)
            # As on the Playground: the stream is read as fast as it comes; the browser gets the text so
            # far at most every UI_INTERVAL (a state update per token held the stream back).
            reading = asyncio.Event()
            pusher = asyncio.create_task(self._show_while(reading, parts))
            try:
                async for chunk in outcome.chunks:
                    found = _citations_in(chunk) if cited is None else None
                    if found is not None:  # the first event: shown before any token
                        cited = _citation_rows(found, names)
                        async with self:
                            self.citations = cited
                        continue
                    delta, chunk_usage, error = parse_sse(chunk)
                    if error:
                        raise GatehouseError(error.get("message", "the upstream failed"))
                    usage = chunk_usage or usage
                    if delta:
                        parts.append(delta)
            finally:
                reading.set()
                await pusher
                with contextlib.suppress(Exception):  # however the reading ended: closing records the usage
                    await outcome.chunks.aclose()  # type: ignore[attr-defined]
            answer, answered = "".join(parts), request_id
            tokens = (f" · {usage.get('prompt_tokens', 0)} in / {usage.get('completion_tokens', 0)} out tokens"
                      if usage else "")
            sources = f"{len(cited)} source{'s' if len(cited) != 1 else ''}" if cited else "no source matched"
            async with self:
                self.answer = answer
                self.stats = f"{(time.perf_counter() - started) * 1000:.0f} ms · {sources}{tokens}"
                if not answer.strip():  # never a blank answer without a word on why
                    self.error_title, self.error = "Empty answer", "The model returned no text for this question."
        except AuthenticationFailed as exc:
            yield failure(exc)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong is shown in the panel, never a blank answer
            title, message = _explain(exc)
            async with self:
                self.answer = "".join(parts)
                self.error_title, self.error = title, message
        finally:
            async with self:
                self.streaming = False
        # The answer's own row when a model wrote one; else (an error, or "I don't know" without a model call)
        # any row written since the question.
        wait_for = answered if cited and answered else ""
        yield RagPanelState.load_recent(wait_for, "" if wait_for else since.isoformat())

    # Uploading --------------------------------------------------------------------------------

    @rx.event
    def set_upload_store(self, store_id: str):
        """The store the next upload goes to."""
        self.upload_store = store_id

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        """Store the chosen files and add them to the module's store (as the Vector stores page does)."""
        store_id = self.module_store
        if not files or not store_id:
            yield rx.toast.error("Choose files first" if store_id else "This module has no store to add files to")
            return
        if len(files) > MAX_UPLOAD_FILES:
            yield rx.toast.error(f"At most {MAX_UPLOAD_FILES} files at a time")
            return
        self.uploading = True
        yield
        store = next((s.name for s in self.module_stores if s.id == store_id), store_id)
        added: list[UploadRow] = []
        try:
            identity = await _store_identity(self.jwt, self.tenant_arg())
            for file in files:
                name = getattr(file, "name", None) or getattr(file, "filename", None) or "upload"
                data = await file.read()
                uploaded = await platform().files.upload(identity, name, io.BytesIO(data), "assistants")
                entry = await platform().vector_stores.add_file(identity, store_id, {"file_id": uploaded["id"]})
                added.append(UploadRow(file_id=uploaded["id"], filename=uploaded.get("filename") or name,
                                       store_id=store_id, store=store, status=entry.get("status", "in_progress")))
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.uploading = False
            self.uploads = [*added, *(u for u in self.uploads if u.file_id not in {a.file_id for a in added})]
        if added:
            yield rx.toast.success(f"{counted(len(added), 'file')} added to {store}: indexing")
        yield rx.clear_selected_files("rag-upload")
        yield RagPanelState.watch_uploads

    @rx.event(background=True)
    async def watch_uploads(self):
        """The uploaded files' ingestion status, read again while some are in progress."""
        while True:
            async with self:
                module, jwt, tenant = self.module, self.jwt, self.tenant_arg()
                pending = [u for u in self.uploads if u.status == "in_progress"]
            if not pending:
                return
            try:
                identity = await _store_identity(jwt, tenant)
                found = {}
                for u in pending:
                    entry = await platform().vector_stores.get_file(identity, u.store_id, u.file_id)
                    found[u.file_id] = (entry["status"], (entry.get("last_error") or {}).get("message", ""))
            except GatehouseError as exc:
                yield failure(exc)
                return
            async with self:
                if self.module != module:
                    return
                self.uploads = [dataclasses.replace(u, status=found[u.file_id][0], error=found[u.file_id][1])
                                if u.file_id in found else u for u in self.uploads]
            await asyncio.sleep(INGEST_POLL)
