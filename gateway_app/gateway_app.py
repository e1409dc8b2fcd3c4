"""Composition root: the Reflex console with the management and client APIs mounted on one port."""

from __future__ import annotations

import contextlib

import reflex as rx

from api.app import create_api
from components.pages.alerts import alerts_page
from components.pages.guardrails import guardrails_page
from components.pages.login import login_page
from components.pages.memory import memory_page
from components.pages.models import models_page
from components.pages.overview import overview_page
from components.pages.playground import playground_page
from components.pages.projects import projects_page
from components.pages.vector_stores import vector_stores_page
from components.pages.prompts import prompts_page
from components.pages.providers import providers_page
from components.pages.rag import rag_page
from components.pages.tenants import tenants_page
from components.pages.tokens import tokens_page
from components.pages.traces import trace_page, traces_page
from components.pages.usage import usage_page
from components.pages.users import users_page
from gateway_app.services.platform import start_platform, stop_platform
from state.alerts import AlertsState
from state.guardrails import GuardrailsState
from state.memory import MemoryState
from state.models import ModelsState
from state.overview import OverviewState
from state.playground import PlaygroundState
from state.projects import ProjectsState
from state.vector_stores import VectorStoresState
from state.prompts import PromptsState
from state.providers import ProvidersState
from state.rag import RagState
from state.session import SessionState
from state.tenants import TenantsState
from state.tokens import TokensState
from state.traces import TraceDetailState, TracesState
from state.usage import UsageState
from state.users import UsersState

api = create_api(manage_lifespan=False)


def _mount_console(console_asgi):
    """api_transformer: our FastAPI app in front, the console behind it (its routes win first)."""
    api.mount("", console_asgi)
    return api


@contextlib.asynccontextmanager
async def gatehouse_lifespan():
    """Start the platform with the console's server and stop it with it."""
    platform = await start_platform()
    api.state.holder.platform = platform
    try:
        yield
    finally:
        await stop_platform(platform)
        api.state.holder.platform = None


# Toasts at the top centre: at the bottom right they covered the Playground's Send button, at the top
# right they would cover the pages' action buttons.
app = rx.App(api_transformer=_mount_console, toaster=rx.toast.provider(position="top-center", close_button=True))
app.register_lifespan_task(gatehouse_lifespan)

app.add_page(login_page, route="/login", title="Sign in · Gatehouse", on_load=SessionState.skip_login_if_signed_in)
PAGES = (
    (overview_page, "/", "Overview", OverviewState),
    (usage_page, "/usage", "Usage", UsageState),
    (traces_page, "/traces", "Traces", TracesState),
    (alerts_page, "/alerts", "Alerts", AlertsState),
    (trace_page, "/trace", "Trace", TraceDetailState),
    (playground_page, "/playground", "Playground", PlaygroundState),
    (providers_page, "/providers", "Providers", ProvidersState),
    (models_page, "/models", "Models", ModelsState),
    (prompts_page, "/prompts", "Prompts", PromptsState),
    (guardrails_page, "/guardrails", "Guardrails", GuardrailsState),
    (vector_stores_page, "/vector-stores", "Vector stores", VectorStoresState),
    (rag_page, "/rag", "RAG", RagState),
    (memory_page, "/memory", "Memory", MemoryState),
    (projects_page, "/projects", "Projects", ProjectsState),
    (tokens_page, "/tokens", "API tokens", TokensState),
    (users_page, "/users", "Users", UsersState),
    (tenants_page, "/tenants", "Tenants", TenantsState),
)
for page, route, title, page_state in PAGES:
    app.add_page(page, route=route, title=f"{title} · Gatehouse",
                 on_load=[SessionState.require_login, page_state.load])
