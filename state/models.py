"""Models page: public names, their upstream model, fallbacks, prices, limits and recent traffic."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.models import ModelCreate, ModelUpdate
from state.base import failure, in_thread, parse_form, platform
from state.session import SessionState


@dataclasses.dataclass
class ModelRow:
    """One row of the models table."""

    id: str = ""
    name: str = ""
    provider: str = ""
    upstream_model: str = ""
    kind: str = ""
    fallbacks: str = ""
    prices: str = ""
    limits: str = ""
    enabled: bool = True
    requests_24h: int = 0
    spark: list[dict] = dataclasses.field(default_factory=list)


def _price(value: float) -> str:
    return f"${value:g}"


class ModelsState(SessionState):
    """State of /models."""

    rows: list[ModelRow] = []
    providers: list[str] = []
    loading: bool = False
    dialog_open: bool = False
    editing_id: str = ""
    saving: bool = False
    form_errors: dict[str, str] = {}
    form: dict[str, str] = {}
    upstream_choices: list[str] = []  # what the chosen provider's upstream lists
    upstream_hint: str = "Azure: the deployment name."
    delete_id: str = ""
    delete_name: str = ""

    @rx.event
    async def load(self):
        """Models, providers and each model's requests over the last 24 hours."""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            models = await self.tenant_call(services.models.list)
            self.providers = [p.name for p in await self.tenant_call(services.providers.list)]
            sparks = await self.tenant_call(services.usage.model_sparklines)
            self.rows = [ModelRow(
                id=m.id, name=m.name, provider=m.provider, upstream_model=m.upstream_model, kind=m.kind,
                fallbacks=" → ".join(m.fallbacks) or "-",
                prices=f"{_price(m.input_price_per_1k)} / {_price(m.output_price_per_1k)}",
                limits=" · ".join(x for x in (f"{m.rpm} rpm" if m.rpm else "", f"{m.tpm} tpm" if m.tpm else "") if x)
                or "-",
                enabled=m.enabled, requests_24h=sum(sparks.get(m.name, [])),
                spark=[{"h": i, "requests": v} for i, v in enumerate(sparks.get(m.name, [0] * 24))],
            ) for m in models]
        except GatehouseError as exc:
            yield failure(exc)
        finally:
            self.loading = False

    @rx.event
    def open_create(self):
        """Empty form for a new model."""
        self.editing_id, self.form_errors, self.dialog_open = "", {}, True
        self.form = {"kind": "chat", "provider": self.providers[0] if self.providers else "",
                     "input_price_per_1k": "0", "output_price_per_1k": "0"}
        if self.providers:
            return ModelsState.find_upstream(self.providers[0])

    @rx.event
    async def find_upstream(self, provider: str):
        """The models the provider's upstream lists (a connection test), offered in the dialog."""
        self.upstream_choices, self.upstream_hint = [], "Looking up the provider's models…"
        yield
        try:
            principal = await in_thread(self.principal)
            result = await platform().providers.test_connection(principal, self.tenant_arg(), provider)
        except GatehouseError as exc:
            self.upstream_hint = f"Could not list {provider}'s models ({exc.message}); type the name."
            return
        if not result.ok:
            self.upstream_hint = f"Could not list {provider}'s models ({result.error}); type the name."
            return
        self.upstream_choices = list(result.models)
        count = len(result.models)
        self.upstream_hint = (f"{count} model{'s' if count != 1 else ''} found on {provider}: pick one or type a name. "
                              "Azure: the deployment name.") if count else "Type the model name. Azure: the deployment name."

    @rx.event
    async def open_edit(self, model_id: str):
        """The form filled with a model."""
        try:
            model = await self.tenant_call(platform().models.get, model_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.editing_id, self.form_errors, self.dialog_open = model.id, {}, True
        yield ModelsState.find_upstream(model.provider)
        self.form = {"name": model.name, "provider": model.provider, "upstream_model": model.upstream_model,
                     "kind": model.kind, "fallbacks": ", ".join(model.fallbacks),
                     "input_price_per_1k": f"{model.input_price_per_1k:g}",
                     "output_price_per_1k": f"{model.output_price_per_1k:g}",
                     "rpm": str(model.rpm or ""), "tpm": str(model.tpm or "")}

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    async def save(self, form: dict):
        """Create or update a model; fallbacks are an ordered, comma-separated list."""
        data: dict = {k: form[k] for k in ("provider", "upstream_model", "input_price_per_1k", "output_price_per_1k",
                                           "rpm", "tpm") if form.get(k) not in (None, "")}
        data["fallbacks"] = [f.strip() for f in str(form.get("fallbacks", "")).split(",") if f.strip()]
        if not self.editing_id:
            data.update(name=form.get("name", ""), kind=form.get("kind") or "chat")
        else:
            data.setdefault("rpm", None)
            data.setdefault("tpm", None)
        payload, self.form_errors = parse_form(ModelUpdate if self.editing_id else ModelCreate, data,
                                               keep_none=bool(self.editing_id))
        if payload is None:
            return
        self.saving = True
        yield
        try:
            services = platform()
            if self.editing_id:
                await self.tenant_call(services.models.update, self.editing_id, payload)
            else:
                await self.tenant_call(services.models.create, payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.saving = False
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success("Model saved")
        yield ModelsState.load

    @rx.event
    def ask_delete(self, model_id: str, name: str):
        """Ask for confirmation before retiring a model."""
        self.delete_id, self.delete_name = model_id, name

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_id = ""

    @rx.event
    async def delete(self):
        """Retire a model (clients get 404 for it at once)."""
        model_id, self.delete_id = self.delete_id, ""
        try:
            await self.tenant_call(platform().models.delete, model_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success("Model deleted")
        yield ModelsState.load
