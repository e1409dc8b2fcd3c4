"""Memory page: the tenant's memory stores (list, create, edit, delete); the open store's memories, their history
and the store's counters are state/memory_browser.py, a substate of this one."""

from __future__ import annotations

import dataclasses

import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import GatehouseError, PermissionDenied
from gateway_app.services.memory.stores import MemoryStoreCreate, MemoryStoreUpdate
from state.base import failure, field_errors, in_thread, platform
from state.session import SessionState

NONE = "(none)"  # a select's "nothing chosen" item (Radix selects cannot hold an empty value)
CHOICES = ("embedding_model", "extraction_model", "prompt")
NUMBERS = ("similarity_threshold", "top_k", "retention_days")


@dataclasses.dataclass
class MemoryStoreRow:
    """One store in the list."""

    name: str = ""
    description: str = ""
    memories: str = ""
    embedding_model: str = ""
    extraction_model: str = ""
    threshold: str = ""
    top_k: str = ""
    retention: str = ""
    prompt: str = ""


def _catalog(principal, tenant: str | None) -> tuple[list, list[str], list[str], list[str]]:
    """Stores, chat models, embedding models and prompt names of the tenant; runs in a thread."""
    services = platform()
    services.memory_stores.console_identity(principal, tenant)  # the licence check, before anything
    stores = services.memory_stores.list(principal, tenant)
    models = services.models.list(principal, tenant)
    prompts = sorted(p.name for p in services.prompts.list(principal, tenant))
    return (stores, [m.name for m in models if m.kind == "chat"], [m.name for m in models if m.kind == "embedding"],
            prompts)


def _row(s) -> MemoryStoreRow:
    """A store as the list shows it."""
    prompt = f"{s.prompt.name}" + (f"@{s.prompt.label}" if s.prompt.label else "") if s.prompt else ""
    return MemoryStoreRow(name=s.name, description=s.description, memories=str(s.memories),
                          embedding_model=s.embedding_model, extraction_model=s.extraction_model,
                          threshold=f"{s.similarity_threshold:g}", top_k=str(s.top_k),
                          retention=f"{s.retention_days} days" if s.retention_days else "kept", prompt=prompt)


def _browser():
    """The browser's state class (its module imports this one)."""
    from state.memory_browser import MemoryBrowserState

    return MemoryBrowserState


class MemoryState(SessionState):
    """State of /memory."""

    rows: list[MemoryStoreRow] = []
    loading: bool = False
    unavailable: str = ""
    chat_models: list[str] = []
    embedding_models: list[str] = []
    prompt_choices: list[str] = []  # starts with NONE
    _stores: dict[str, dict] = {}  # by name, as the service returned them (the edit form starts from them)
    dialog_open: bool = False
    editing: str = ""  # the store's name; "" for a new one
    saving: bool = False
    form: dict[str, str] = {}
    form_errors: dict[str, str] = {}
    choice: dict[str, str] = {}  # the dialog's selects
    delete_name: str = ""
    store: str = ""  # the store open in the browser (state/memory_browser.py)

    async def _refresh(self) -> None:
        """Everything the page lists, read again."""
        principal = await in_thread(self.principal)
        stores, self.chat_models, self.embedding_models, prompts = await in_thread(
            _catalog, principal, self.tenant_arg())
        self.prompt_choices = [NONE, *prompts]
        self._stores = {s.name: s.model_dump(mode="json") for s in stores}
        self.rows = [_row(s) for s in stores]
        if self.store not in self._stores:
            self.store = ""

    @rx.event
    async def load(self):
        """The tenant's stores and models; the store in ?store= is opened."""
        self.unavailable = ""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            self.store = self.router.url.query_parameters.get("store", "") or self.store
            await self._refresh()
        except PermissionDenied as exc:
            self.unavailable, self.rows = exc.message, []
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False
        if self.store:
            yield _browser().opened

    @rx.event
    def select(self, name: str):
        """Open a store's memories."""
        opened, self.store = name != self.store, name
        yield rx.call_script(f"window.history.replaceState(null, '', '?store={name}')")
        if opened:
            yield _browser().opened

    # Create and edit --------------------------------------------------------------------------

    @rx.event
    def open_create(self):
        """An empty form for a new store."""
        self.editing, self.form_errors, self.dialog_open = "", {}, True
        self.form = {"name": "", "description": "", "similarity_threshold": "0.95", "top_k": "5",
                     "retention_days": "", "label": ""}
        self.choice = {"embedding_model": self.embedding_models[0] if self.embedding_models else "",
                       "extraction_model": self.chat_models[0] if self.chat_models else "", "prompt": NONE}

    @rx.event
    def open_edit(self, name: str):
        """The form filled with a store."""
        store = self._stores.get(name)
        if store is None:
            return
        prompt = store["prompt"] or {}
        self.editing, self.form_errors, self.dialog_open = name, {}, True
        self.form = {"name": store["name"], "description": store["description"],
                     "similarity_threshold": f"{store['similarity_threshold']:g}", "top_k": str(store["top_k"]),
                     "retention_days": str(store["retention_days"] or ""), "label": prompt.get("label") or ""}
        self.choice = {"embedding_model": store["embedding_model"], "extraction_model": store["extraction_model"],
                       "prompt": prompt.get("name") or NONE}

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    def set_choice(self, key: str, value: str):
        """One of the dialog's selects."""
        if key in CHOICES:
            self.choice = {**self.choice, key: value}
            self.form_errors = {k: v for k, v in self.form_errors.items() if k != key}

    def _fields(self, form: dict) -> dict:
        """The service's input from the submitted form and the selects."""
        choice = {k: (None if v in (NONE, "") else v) for k, v in self.choice.items()}
        fields: dict = {"name": str(form.get("name", "")).strip(), "description": str(form.get("description", "")),
                        "embedding_model": choice.get("embedding_model"),
                        "extraction_model": choice.get("extraction_model"),
                        "prompt": choice.get("prompt") and {"name": choice["prompt"],
                                                            "label": str(form.get("label", "")).strip() or None}}
        for key in NUMBERS:
            value = str(form.get(key, "")).strip()
            if value:
                fields[key] = value
            elif key == "retention_days" and self.editing:
                fields[key] = None  # emptied: memories are kept again
        return fields

    @rx.event
    async def save(self, form: dict):
        """Create or update the store; the service checks its models and prompt."""
        fields, errors = self._fields(form), {}
        for key, what in (("embedding_model", "the embedding model that indexes memories"),
                          ("extraction_model", "the chat model that extracts and decides")):
            if not fields.get(key):
                errors[key] = f"Pick {what}"
        try:
            data = (MemoryStoreUpdate if self.editing else MemoryStoreCreate)(**fields)
        except ValidationError as exc:
            for key, message in field_errors(exc).items():
                errors.setdefault(key.split(".")[0], message)
        if errors:
            self.form_errors = errors
            return
        self.saving = True
        yield
        try:
            service = platform().memory_stores
            if self.editing:
                saved = await self.tenant_call(service.update, self.editing, data)
            else:
                saved = await self.tenant_call(service.create, data)
        except GatehouseError as exc:
            self.saving = False
            self.form_errors = {exc.param if exc.param in MemoryStoreCreate.model_fields else "form": exc.message}
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success(f"Memory store {saved.name} {'saved' if self.editing else 'created'}")
        renamed = self.editing and self.store == self.editing
        try:
            await self._refresh()
        except GatehouseError as exc:
            yield failure(exc)
            return
        if renamed or not self.editing:
            yield MemoryState.select(saved.name)

    # Delete -----------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, name: str):
        """Confirm deleting a store ("" closes the confirmation)."""
        self.delete_name = name

    @rx.event
    async def confirm_delete(self):
        """Delete the store with its memories, history and vectors."""
        name, self.delete_name = self.delete_name, ""
        try:
            await self.tenant_call(platform().memory_stores.delete, name)
            await self._refresh()
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"Memory store {name} deleted")
