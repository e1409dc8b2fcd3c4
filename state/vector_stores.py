"""Vector stores page: stores with file counts; a store's files (upload, status, attributes) and search."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import counted, failure, in_thread, platform
from state.session import SessionState

REFRESH_SECONDS = 1.0  # while files are being ingested
MAX_UPLOAD_FILES = 20


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


@dataclasses.dataclass
class StoreRow:
    """One store in the list."""

    id: str = ""
    name: str = ""
    status: str = ""
    files: str = ""
    size: str = ""
    model: str = ""
    expires: str = ""


@dataclasses.dataclass
class FileRow:
    """One file of the open store."""

    id: str = ""
    filename: str = ""
    status: str = ""
    error: str = ""
    attributes: str = ""
    size: str = ""


@dataclasses.dataclass
class Hit:
    """One search result."""

    filename: str = ""
    score: str = ""
    text: str = ""
    attributes: str = ""


def _files_text(counts: dict) -> str:
    parts = [f"{counts[k]} {k.replace('_', ' ')}" for k in ("completed", "in_progress", "failed", "cancelled")
             if counts.get(k)]
    return " · ".join(parts) or "no files"


def _store_rows(page: dict) -> list[StoreRow]:
    """Rows of a listed page of stores."""
    return [StoreRow(id=s["id"], name=s["name"] or s["id"], status=s["status"], files=_files_text(s["file_counts"]),
                     size=_size(s["usage_bytes"]), model=s["embedding_model"],
                     expires=f"{s['expires_after']['days']} days idle" if s["expires_after"] else "never")
            for s in page["data"]]


class VectorStoresState(SessionState):
    """State of /vector-stores."""

    rows: list[StoreRow] = []
    loading: bool = False
    models: list[str] = []
    dialog_open: bool = False
    saving: bool = False
    form_errors: dict[str, str] = {}
    store_id: str = ""  # the open store
    files: list[FileRow] = []
    uploading: bool = False
    query: str = ""
    hits: list[Hit] = []
    searched: bool = False
    searching: bool = False
    attributes_file: str = ""  # the file whose attributes are being edited
    attributes_text: str = ""
    attributes_error: str = ""
    delete_store_id: str = ""
    delete_file_id: str = ""

    async def _identity(self, write: bool = False):
        principal = await in_thread(self.principal)
        return await in_thread(platform().vector_stores.console_identity, principal, self.tenant_arg(), write=write)

    @rx.var
    def open_name(self) -> str:
        """Name of the open store."""
        return next((r.name or r.id for r in self.rows if r.id == self.store_id), self.store_id)

    @rx.event
    async def load(self):
        """The tenant's stores; the store named in ?store= is opened."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            identity = await self._identity()
            service = platform().vector_stores
            page = await service.list(identity, limit=100)
            self.models = await service.embedding_models(identity)
        except GatehouseError as exc:
            self.loading = False
            yield failure(exc)
            return
        self.loading = False
        self.rows = _store_rows(page)
        wanted = self.router.url.query_parameters.get("store", "")
        if wanted and wanted != self.store_id:
            self.store_id = wanted
            yield VectorStoresState.load_files

    @rx.event
    async def open_store(self, store_id: str):
        """Show a store's files and search box."""
        self.store_id, self.hits, self.searched, self.query = store_id, [], False, ""
        yield rx.call_script(f"window.history.replaceState(null, '', '?store={store_id}')")
        yield VectorStoresState.load_files

    @rx.event(background=True)
    async def load_files(self):
        """The open store's files, refreshed while some are being ingested."""
        while True:
            async with self:
                store_id = self.store_id
            if not store_id:
                return
            try:
                identity = await self._identity()
                service = platform().vector_stores
                listed = await service.list_files(identity, store_id, limit=100)
                names = {f["id"]: f["filename"] for f in (await platform().files.list(identity))["data"]}
            except GatehouseError as exc:
                async with self:
                    self.store_id, self.files = "", []
                yield failure(exc)
                return
            rows = [FileRow(id=f["id"], filename=names.get(f["id"], f["id"]), status=f["status"],
                            error=(f["last_error"] or {}).get("message", ""),
                            attributes=", ".join(f"{k}={v}" for k, v in f["attributes"].items()) or "-",
                            size=_size(f["usage_bytes"])) for f in listed["data"]]
            async with self:
                if self.store_id != store_id:
                    return
                self.files = rows
            if not any(r.status == "in_progress" for r in rows):
                yield VectorStoresState.refresh_list
                return
            await asyncio.sleep(REFRESH_SECONDS)

    @rx.event
    async def refresh_list(self):
        """The store list again (counts changed)."""
        try:
            identity = await self._identity()
            page = await platform().vector_stores.list(identity, limit=100)
        except GatehouseError:
            return
        self.rows = _store_rows(page)

    # Create -----------------------------------------------------------------------------------

    @rx.event
    def open_create(self):
        """The new-store dialog."""
        self.form_errors, self.dialog_open = {}, True

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    async def create(self, form: dict):
        """Create a store (name, embedding model, expiry after N idle days)."""
        body: dict = {"name": str(form.get("name", "")).strip(), "embedding_model": form.get("embedding_model") or None}
        days = str(form.get("expires_days", "")).strip()
        if days:
            if not days.isdigit():
                self.form_errors = {"expires_days": "Enter a number of days (1-365), or leave it empty"}
                return
            body["expires_after"] = {"anchor": "last_active_at", "days": int(days)}
        self.saving = True
        yield
        try:
            created = await platform().vector_stores.create(await self._identity(write=True), body)
        except GatehouseError as exc:
            self.saving = False
            self.form_errors = {exc.param if exc.param in ("name", "embedding_model") else
                                ("expires_days" if exc.param == "expires_after" else "form"): exc.message}
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success(f"Vector store {created['name'] or created['id']} created")
        yield VectorStoresState.refresh_list
        yield VectorStoresState.open_store(created["id"])

    # Files ------------------------------------------------------------------------------------

    @rx.event
    async def upload(self, files: list[rx.UploadFile]):
        """Upload the dropped files and add them to the open store; ingestion starts at once."""
        if not files:
            yield rx.toast.error("Choose or drop files first")
            return
        if len(files) > MAX_UPLOAD_FILES:
            yield rx.toast.error(f"At most {MAX_UPLOAD_FILES} files at a time")
            return
        self.uploading = True
        yield
        added = 0
        try:
            identity = await self._identity(write=True)
            for file in files:
                name = getattr(file, "name", None) or getattr(file, "filename", None) or "upload"
                data = await file.read()
                uploaded = await platform().files.upload(identity, name, io.BytesIO(data), "assistants")
                await platform().vector_stores.add_file(identity, self.store_id, {"file_id": uploaded["id"]})
                added += 1
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.uploading = False
        if added:
            yield rx.toast.success(f"{counted(added, 'file')} added: indexing")
        yield rx.clear_selected_files("vector-upload")
        yield VectorStoresState.load_files

    @rx.event
    def edit_attributes(self, file_id: str):
        """Edit a file's attributes as JSON."""
        self.attributes_file, self.attributes_error = file_id, ""
        row = next((f for f in self.files if f.id == file_id), None)
        pairs = {}
        if row is not None and row.attributes != "-":
            for part in row.attributes.split(", "):
                key, _, value = part.partition("=")
                pairs[key] = value
        self.attributes_text = json.dumps(pairs, indent=2)

    @rx.event
    def set_attributes_text(self, value: str):
        """The attributes being typed."""
        self.attributes_text = value

    @rx.event
    def close_attributes(self):
        """Close the attributes dialog."""
        self.attributes_file = ""

    @rx.event
    async def save_attributes(self):
        """Save a file's attributes (filters see them at once)."""
        try:
            attributes = json.loads(self.attributes_text or "{}")
        except json.JSONDecodeError as exc:
            self.attributes_error = f"Not valid JSON: {exc.msg} (line {exc.lineno})"
            return
        try:
            await platform().vector_stores.update_file(await self._identity(write=True), self.store_id,
                                                       self.attributes_file, {"attributes": attributes})
        except GatehouseError as exc:
            self.attributes_error = exc.message
            return
        self.attributes_file = ""
        yield rx.toast.success("Attributes saved")
        yield VectorStoresState.load_files

    # Search -----------------------------------------------------------------------------------

    @rx.event
    def set_query(self, value: str):
        """The search text."""
        self.query = value

    @rx.event
    async def search(self, form: dict | None = None):
        """Ranked chunks of the open store for the query."""
        if not self.query.strip():
            return
        self.searching = True
        yield
        try:
            page = await platform().vector_search.search(await self._identity(), self.store_id,
                                                         {"query": self.query, "max_num_results": 10})
        except GatehouseError as exc:
            self.searching = False
            yield failure(exc)
            return
        self.searching, self.searched = False, True
        self.hits = [Hit(filename=h["filename"] or "(record)", score=f"{h['score']:.3f}",
                         text=h["content"][0]["text"][:600],
                         attributes=", ".join(f"{k}={v}" for k, v in h["attributes"].items()))
                     for h in page["data"]]

    # Delete -----------------------------------------------------------------------------------

    @rx.event
    def ask_delete_store(self, store_id: str):
        """Confirm deleting a store."""
        self.delete_store_id = store_id

    @rx.event
    def ask_delete_file(self, file_id: str):
        """Confirm removing a file from the open store."""
        self.delete_file_id = file_id

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_store_id, self.delete_file_id = "", ""

    @rx.var
    def delete_message(self) -> str:
        """What the confirmation is about."""
        if self.delete_file_id:
            name = next((f.filename for f in self.files if f.id == self.delete_file_id), self.delete_file_id)
            return f"Remove {name} from this store? Its chunks stop being found; the uploaded file is kept."
        name = next((r.name for r in self.rows if r.id == self.delete_store_id), self.delete_store_id)
        return f"Delete the vector store {name} with all its chunks? Searches on it answer 404 from then on."

    @rx.event
    async def confirm_delete(self):
        """Delete the store or remove the file."""
        store_id, file_id = self.delete_store_id, self.delete_file_id
        self.delete_store_id, self.delete_file_id = "", ""
        try:
            identity = await self._identity(write=True)
            if file_id:
                await platform().vector_stores.delete_file(identity, self.store_id, file_id)
            else:
                await platform().vector_stores.delete(identity, store_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        if file_id:
            yield rx.toast.success("File removed from the store")
            yield VectorStoresState.load_files
        else:
            if store_id == self.store_id:
                self.store_id, self.files, self.hits = "", [], []
            yield rx.toast.success("Vector store deleted")
            yield VectorStoresState.refresh_list
