"""RAG page: the tenant's modules (list, create, edit, delete) and a test panel that streams a cited answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import orjson
import reflex as rx
from pydantic import ValidationError

from gateway_app.core.errors import AuthenticationFailed, GatehouseError, PermissionDenied, Unavailable
from gateway_app.core.ids import fast_id
from gateway_app.providers.sse import parse_sse
from gateway_app.services.rag.modules import RagModuleCreate, RagModuleUpdate
from state.base import failure, field_errors, in_thread, platform
from state.session import SessionState

UI_INTERVAL = 0.05  # seconds between updates of the answer being streamed into the browser
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


@dataclasses.dataclass
class StoreChoice:
    """A vector store the dialog offers."""

    id: str = ""
    name: str = ""


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


def _citations_in(chunk: bytes) -> list[dict] | None:
    """The citations an SSE chunk carries (the first event of a module's stream), if any."""
    for event in chunk.split(b"\n\n") if b'"citations"' in chunk else ():
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(event.strip().removeprefix(b"data:"))
            if isinstance(parsed, dict) and isinstance(parsed.get("citations"), list):
                return parsed["citations"]
    return None


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
                     stores=", ".join(names.get(s, f"{s} (missing)") for s in m.vector_store_ids),
                     threshold=f"{m.score_threshold:g}", no_results=m.no_results,
                     extras=" · ".join(x for x in (prompt, f"rerank {m.rerank_model}" if m.rerank_model else "") if x))


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
    # The test panel.
    module: str = ""
    question: str = ""
    asked: str = ""
    answer: str = ""
    stats: str = ""
    citations: list[CitationRow] = []
    error_title: str = ""
    error: str = ""
    streaming: bool = False
    shown: int = 0  # the citation open in its dialog

    @rx.var
    def label_choices(self) -> list[str]:
        """Labels of the chosen prompt."""
        return self.prompt_labels.get(self.choice.get("prompt", NONE), [])

    @rx.var
    def shown_citation(self) -> CitationRow:
        """The citation open in its dialog."""
        return next((c for c in self.citations if c.index == self.shown), CitationRow())

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

    @rx.event
    def select(self, name: str):
        """Open a module's test panel."""
        if name != self.module:
            self.module, self.asked, self.answer, self.citations, self.stats = name, "", "", [], ""
            self.error_title, self.error = "", ""
        return rx.call_script(f"window.history.replaceState(null, '', '?module={name}')")

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

    # Test panel -------------------------------------------------------------------------------

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
        started, usage, cited = time.perf_counter(), None, None
        parts: list[str] = []  # the answer's pieces as they arrive
        try:
            principal = await in_thread(platform().auth.authenticate, jwt)
            identity = await in_thread(platform().rag_modules.console_identity, principal, tenant, write=True)
            outcome = await platform().rag.query(identity, module, {"query": question, "stream": True},
                                                 fast_id("rag"))
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
            answer = "".join(parts)
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


def _citation_rows(found: list[dict], names: dict[str, str]) -> list[CitationRow]:
    """The stream's citations as the panel lists them."""
    return [CitationRow(index=c["index"], filename=c["filename"] or c["file_id"] or "(record)",
                        score=f"{c['score']:.3f}", text=c["text"], file_id=c["file_id"] or "-",
                        store=names.get(c["vector_store_id"], c["vector_store_id"]), chunk_id=c["chunk_id"],
                        attributes=", ".join(f"{k}={v}" for k, v in (c.get("attributes") or {}).items()))
            for c in found]

