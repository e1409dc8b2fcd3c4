"""Providers page: configure upstreams (keys write-only), test them, see breaker state and error rate."""

from __future__ import annotations

import dataclasses

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.services.providers import ProviderCreate, ProviderOut, ProviderUpdate
from state.base import counted, failure, in_thread, parse_form, platform
from state.session import SessionState

TYPES = ["openai", "openai-compatible", "azure-openai", "anthropic"]
TYPE_LABELS = {"openai": "OpenAI", "openai-compatible": "OpenAI-compatible (vLLM, Ollama, llama.cpp...)",
               "azure-openai": "Azure OpenAI", "anthropic": "Anthropic"}
# Circuit breaker states in an operator's words: closed lets calls through, open pauses them after
# repeated failures, half-open lets a probe through to see whether the provider recovered.
HEALTH = {"closed": "healthy", "half-open": "failing", "open": "paused"}


@dataclasses.dataclass
class ProviderRow:
    """One provider card."""

    id: str = ""
    name: str = ""
    type: str = ""
    base_url: str = ""
    api_key: str = ""
    api_version: str = ""
    timeout_s: str = ""
    max_retries: str = ""
    enabled: bool = True
    breaker: str = "closed"
    requests: int = 0
    traffic: str = ""
    type_label: str = ""
    health: str = "healthy"
    test_result: str = ""
    test_ok: bool = False


def _url_of(rows: list, provider_id: str) -> str:
    return next((r.base_url for r in rows if r.id == provider_id), "")


def _row(provider: ProviderOut, health: dict) -> ProviderRow:
    stats = health.get(provider.id)
    return ProviderRow(
        id=provider.id, name=provider.name, type=provider.type, base_url=provider.base_url,
        api_key=provider.api_key or "none", api_version=provider.api_version or "",
        timeout_s=f"{provider.options.timeout_s:g}", max_retries=str(provider.options.max_retries),
        enabled=provider.enabled, breaker=provider.breaker.state,
        requests=stats.requests if stats else 0,
        traffic=(f"Last hour: {stats.requests} request{'s' if stats.requests != 1 else ''}, "
                 f"{stats.errors} error{'s' if stats.errors != 1 else ''}" if stats and stats.requests
                 else "No requests in the last hour"),
        type_label=TYPE_LABELS.get(provider.type, provider.type),
        health=HEALTH.get(provider.breaker.state, provider.breaker.state))


class ProvidersState(SessionState):
    """State of /providers."""

    rows: list[ProviderRow] = []
    loading: bool = False
    error: str = ""
    dialog_open: bool = False
    editing_id: str = ""
    saving: bool = False
    form_errors: dict[str, str] = {}
    form: dict[str, str] = {}
    testing_id: str = ""
    delete_id: str = ""
    delete_name: str = ""
    delete_models: list[str] = []  # models published on the provider being deleted
    form_type: str = "openai-compatible"  # the type chosen in the dialog (shows Azure's API version)

    @rx.event
    async def load(self):
        """Providers with breaker state and the last hour's error rate."""
        self.error = ""
        if self.tenant_missing:
            return
        self.loading = True
        yield
        try:
            services = platform()
            providers = await self.tenant_call(services.providers.list)
            health = await self.tenant_call(services.usage.provider_health)
            results = {r.id: (r.test_result, r.test_ok) for r in self.rows}
            self.rows = [_row(p, health) for p in providers]
            for row in self.rows:
                row.test_result, row.test_ok = results.get(row.id, ("", False))
                if row.test_result and not row.test_ok:
                    row.health = "failing"  # the last test failed: not "healthy" next to it
        except GatehouseError as exc:
            self.error = exc.message
        finally:
            self.loading = False

    @rx.event
    def open_create(self):
        """Empty form for a new provider."""
        self.editing_id, self.form_errors, self.dialog_open = "", {}, True
        self.form = {"type": "openai-compatible", "timeout_s": "60", "max_retries": "2"}
        self.form_type = "openai-compatible"

    @rx.event
    def open_edit(self, provider_id: str):
        """The form filled with a provider (never its key)."""
        row = next((r for r in self.rows if r.id == provider_id), None)
        if row is None:
            return
        self.editing_id, self.form_errors, self.dialog_open = row.id, {}, True
        self.form = {"name": row.name, "type": row.type, "base_url": row.base_url, "api_version": row.api_version,
                     "timeout_s": row.timeout_s, "max_retries": row.max_retries}
        self.form_type = row.type

    @rx.event
    def set_dialog(self, value: bool):
        """Open or close the dialog."""
        self.dialog_open = value

    @rx.event
    async def save(self, form: dict):
        """Create or update; an empty key field keeps the stored key."""
        options = {"timeout_s": form.get("timeout_s") or 60, "max_retries": form.get("max_retries") or 2}
        data = {k: form.get(k) for k in ("name", "base_url", "api_key", "api_version") if form.get(k)}
        data["options"] = options
        if not self.editing_id:
            data["type"] = form.get("type") or "openai-compatible"
        payload, self.form_errors = parse_form(ProviderUpdate if self.editing_id else ProviderCreate, data)
        if payload is None:
            self.form_errors = {k.replace("options.", ""): v for k, v in self.form_errors.items()}
            return
        self.saving = True
        yield
        try:
            services = platform()
            if self.editing_id:
                await self.tenant_call(services.providers.update, self.editing_id, payload)
            else:
                await self.tenant_call(services.providers.create, payload)
        except GatehouseError as exc:
            self.form_errors = {exc.param or "form": exc.message}
            self.saving = False
            return
        self.saving, self.dialog_open = False, False
        yield rx.toast.success(f"Provider {data.get('name', '')} saved".replace("  ", " "))
        yield ProvidersState.load

    @rx.event
    async def test(self, provider_id: str):
        """List the upstream's models with the stored credentials."""
        self.testing_id = provider_id
        yield
        try:
            principal = await in_thread(self.principal)
            result = await platform().providers.test_connection(principal, self.tenant_arg(), provider_id)
            ok = result.ok
            message = (f"Connected in {result.latency_ms:.0f} ms · {counted(len(result.models), 'model')}: "
                       f"{', '.join(result.models[:5])}{'…' if len(result.models) > 5 else ''}"
                       if result.ok else f"Failed: {result.error}")
        except GatehouseError as exc:
            ok, message = False, exc.message
        if not ok and "404" in message and not _url_of(self.rows, provider_id).rstrip("/").endswith("/v1"):
            message += " · OpenAI-compatible servers usually answer under /v1: try the base URL ending in /v1"
        for row in self.rows:
            if row.id == provider_id:
                row.test_result, row.test_ok = message, ok
                # The badge says what the operator just saw, not only the request path's breaker.
                row.health = row.health if ok else "failing"
        self.rows = list(self.rows)
        self.testing_id = ""
        yield (rx.toast.success if ok else rx.toast.error)(message[:120])

    @rx.event
    async def ask_delete(self, provider_id: str, name: str):
        """Ask for confirmation before deleting, naming the models that use the provider."""
        try:
            models = await self.tenant_call(platform().models.list)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.delete_models = [m.name for m in models if m.provider_id == provider_id]
        self.delete_id, self.delete_name = provider_id, name

    @rx.var
    def delete_blocked(self) -> bool:
        """Models still use the chosen provider: it cannot be deleted."""
        return bool(self.delete_models)

    @rx.var
    def delete_message(self) -> str:
        """What deleting the chosen provider means."""
        if self.delete_models:
            return (f"{self.delete_name} still serves {len(self.delete_models)} model"
                    f"{'s' if len(self.delete_models) != 1 else ''}: {', '.join(self.delete_models)}. "
                    "Delete or move those models first; the provider cannot be deleted while they use it.")
        return f"Delete {self.delete_name}? Its encrypted key is removed too."

    @rx.event
    def set_form_type(self, value: str):
        """The type picked in the dialog."""
        self.form_type = value

    @rx.event
    def cancel_delete(self):
        """Close the confirmation."""
        self.delete_id = ""

    @rx.event
    async def delete(self):
        """Delete a provider no model uses."""
        provider_id, self.delete_id = self.delete_id, ""
        try:
            await self.tenant_call(platform().providers.delete, provider_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        yield rx.toast.success("Provider deleted")
        yield ProvidersState.load

