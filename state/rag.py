"""RAG page: the tenant's modules (list, create, edit, delete); the open module's panel (a cited answer, its
recent calls, uploads) is state/rag_test_panel.py, a substate of this one."""

from __future__ import annotations

import dataclasses

import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import GatehouseError, PermissionDenied
from gateway_app.services.rag.modules import RagModuleCreate, RagModuleUpdate
from state.base import failure, field_errors, in_thread, platform
from state.session import SessionState

NONE = "(none)"  # a select's "nothing chosen" item (Radix selects cannot hold an empty value)
CHOICES = ("model", "prompt", "no_results", "rerank_model")


@dataclasses.dataclass
class ModuleRow:
    """One module in the list."""

    name: str = ""
    description: str = ""
    stores: str = ""
    model: str = ""
    top_k: str = ""
    threshold: str = ""
    no_results: str = ""
    extras: str = ""  # prompt and rerank model, when set
    store_ids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class StoreChoice:
    """A vector store the dialog offers."""

    id: str = ""
    name: str = ""


def _catalog(principal, tenant: str | None) -> tuple[list, list[str], dict[str, list[str]]]:
    """Modules, chat models and prompts (with their labels) of the tenant; runs in a thread."""
    services = platform()
    services.rag_modules.console_identity(principal, tenant)  # the licence check, before anything
    modules = services.rag_modules.list(principal, tenant)
    models = [m.name for m in services.models.list(principal, tenant) if m.kind == "chat"]
    prompts = {p.name: sorted(p.labels) for p in services.prompts.list(principal, tenant)}
    return modules, models, prompts


def _module_row(m, names: dict[str, str]) -> ModuleRow:
    """A module as the list shows it (stores by name)."""
    prompt = f"prompt {m.prompt.name}" + (f"@{m.prompt.label}" if m.prompt.label else "") if m.prompt else ""
    return ModuleRow(name=m.name, description=m.description, model=m.model, top_k=str(m.top_k),
                     store_ids=list(m.vector_store_ids),
                     stores=", ".join(names.get(s, f"{s} (missing)") for s in m.vector_store_ids),
                     threshold=f"{m.score_threshold:g}", no_results=m.no_results,
                     extras=" · ".join(x for x in (prompt, f"rerank {m.rerank_model}" if m.rerank_model else "") if x))


def _panel():
    """The panel's state class (its module imports this one)."""
    from state.rag_test_panel import RagPanelState

    return RagPanelState


class RagState(SessionState):
    """State of /rag."""

    rows: list[ModuleRow] = []
    loading: bool = False
    unavailable: str = ""
    stores: list[StoreChoice] = []
    chat_models: list[str] = []
    rerank_choices: list[str] = []  # the selects' lists start with NONE
    prompt_choices: list[str] = []
    prompt_labels: dict[str, list[str]] = {}
    _modules: dict[str, dict] = {}  # by name, as the service returned them (the edit form starts from them)
    # The dialog.
    dialog_open: bool = False
    editing: str = ""  # the module's name; "" for a new one
    saving: bool = False
    form: dict[str, str] = {}
    form_errors: dict[str, str] = {}
    form_stores: list[str] = []
    choice: dict[str, str] = {}  # the dialog's selects: model, prompt, no_results, rerank_model
    delete_name: str = ""
    module: str = ""  # the module open in the panel (state/rag_test_panel.py)

    @rx.var
    def label_choices(self) -> list[str]:
        """Labels of the chosen prompt."""
        return self.prompt_labels.get(self.choice.get("prompt", NONE), [])

    # Loading ----------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        """Everything the page lists, read again."""
        principal = await in_thread(self.principal)
        tenant = self.tenant_arg()
        modules, self.chat_models, self.prompt_labels = await in_thread(_catalog, principal, tenant)
        self.rerank_choices, self.prompt_choices = [NONE, *self.chat_models], [NONE, *sorted(self.prompt_labels)]
        try:
            vectors = platform().vector_stores
            identity = await in_thread(vectors.console_identity, principal, tenant)
            listed = (await vectors.list(identity, limit=100))["data"]
        except PermissionDenied:
            listed = []  # no vector feature: the dialog says there is no store to pick
        names = {s["id"]: s["name"] or s["id"] for s in listed}
        self.stores = [StoreChoice(id=k, name=v) for k, v in names.items()]
        self._modules = {m.name: m.model_dump(mode="json") for m in modules}
        self.rows = [_module_row(m, names) for m in modules]
        if self.module not in self._modules:
            self.module = ""

    @rx.event
    async def load(self):
        """The tenant's modules, stores, chat models and prompts; the module in ?module= is opened."""
        self.unavailable = ""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            self.module = self.router.url.query_parameters.get("module", "") or self.module
            await self._refresh()
        except PermissionDenied as exc:
            self.unavailable, self.rows = exc.message, []
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False
        if self.module:
            yield _panel().opened

    @rx.event
    def select(self, name: str):
        """Open a module's test panel."""
        opened, self.module = name != self.module, name
        yield rx.call_script(f"window.history.replaceState(null, '', '?module={name}')")
        if opened:
            yield _panel().opened

    # Create and edit --------------------------------------------------------------------------

    @rx.event
    def open_create(self):
        """An empty form for a new module."""
        self.editing, self.form_errors, self.dialog_open = "", {}, True
        self.form = {"name": "", "description": "", "top_k": "5", "score_threshold": "0", "label": ""}
        self.form_stores = [self.stores[0].id] if len(self.stores) == 1 else []
        self.choice = {"model": self.chat_models[0] if self.chat_models else "", "prompt": NONE,
                       "no_results": "answer", "rerank_model": NONE}

    @rx.event
    def open_edit(self, name: str):
        """The form filled with a module."""
        module = self._modules.get(name)
        if module is None:
            return
        prompt = module["prompt"] or {}
        self.editing, self.form_errors, self.dialog_open = name, {}, True
        self.form = {"name": module["name"], "description": module["description"], "top_k": str(module["top_k"]),
                     "score_threshold": f"{module['score_threshold']:g}", "label": prompt.get("label") or ""}
        known = {c.id for c in self.stores}  # a deleted store could not be unticked: it is dropped here
        self.form_stores = [s for s in module["vector_store_ids"] if s in known]
        self.choice = {"model": module["model"], "prompt": prompt.get("name") or NONE,
                       "no_results": module["no_results"], "rerank_model": module["rerank_model"] or NONE}

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    def toggle_store(self, store_id: str, checked: bool):
        """Pick or drop a store (kept in the order picked)."""
        picked = [s for s in self.form_stores if s != store_id]
        self.form_stores = [*picked, store_id] if checked else picked
        self.form_errors = {k: v for k, v in self.form_errors.items() if k != "vector_store_ids"}

    @rx.event
    def set_choice(self, key: str, value: str):
        """One of the dialog's selects."""
        if key in CHOICES:
            self.choice = {**self.choice, key: value}
            self.form_errors = {k: v for k, v in self.form_errors.items() if k != key}  # the error was about it

    @rx.event
    async def save(self, form: dict):
        """Create or update the module; the service checks its stores, models and prompt."""
        choice = {k: (None if v in (NONE, "") else v) for k, v in self.choice.items()}
        fields: dict = {"name": str(form.get("name", "")).strip(), "description": str(form.get("description", "")),
                        "vector_store_ids": self.form_stores, "model": choice.get("model"),
                        "no_results": choice.get("no_results") or "answer", "rerank_model": choice.get("rerank_model"),
                        "prompt": choice.get("prompt") and {"name": choice["prompt"],
                                                            "label": str(form.get("label", "")).strip() or None}}
        # An empty number is the default (new module) or unchanged (edit).
        fields.update({k: str(form[k]).strip() for k in ("top_k", "score_threshold") if str(form.get(k, "")).strip()})
        errors = {}
        if not self.form_stores:
            errors["vector_store_ids"] = "Pick at least one vector store"
        if not choice.get("model"):
            errors["model"] = "Pick the chat model that writes the answers"
        try:
            data = (RagModuleUpdate if self.editing else RagModuleCreate)(**fields)
        except ValidationError as exc:
            # "prompt.label" and the like are shown under their control.
            for key, message in field_errors(exc).items():
                errors.setdefault(key.split(".")[0], message)
        if errors:
            self.form_errors = errors
            return
        self.saving = True
        yield
        try:
            service = platform().rag_modules
            if self.editing:
                saved = await self.tenant_call(service.update, self.editing, data)
            else:
                saved = await self.tenant_call(service.create, data)
        except GatehouseError as exc:
            self.saving = False
            self.form_errors = {exc.param if exc.param in RagModuleCreate.model_fields else "form": exc.message}
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success(f"RAG module {saved.name} {'saved' if self.editing else 'created'}")
        renamed = self.editing and self.module == self.editing
        try:
            await self._refresh()
        except GatehouseError as exc:
            yield failure(exc)
            return
        if renamed or not self.editing:
            yield RagState.select(saved.name)

    # Delete -----------------------------------------------------------------------------------

    @rx.event
    def ask_delete(self, name: str):
        """Confirm deleting a module ("" closes the confirmation)."""
        self.delete_name = name

    @rx.event
    async def confirm_delete(self):
        """Delete the module (its stores stay)."""
        name, self.delete_name = self.delete_name, ""
        try:
            await self.tenant_call(platform().rag_modules.delete, name)
            await self._refresh()
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success(f"RAG module {name} deleted")
