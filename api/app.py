"""The FastAPI app factory: client API (/v1), management API (/admin/v1), health, OpenAPI docs."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request

from api.body_limit import BodyLimitMiddleware
from api.errors import install_error_handlers
from api.openapi import install_openapi
from api.middleware import ClientAuthMiddleware, ClientCorsMiddleware, PlatformHolder, RequestContextMiddleware
from api.routes import health, metrics
from api.routes.admin import (
    alerts,
    auth,
    guardrails,
    memory_stores,
    models,
    projects,
    prompts,
    providers,
    rag_modules,
    tenants,
    tokens,
    traces,
    usage,
    users,
)
from api.routes.client import chat, files, memory, messages, observe, rag, responses, vector_stores
from api.routes.client.chat import ClientHotPath
from api.routes.client import models as client_models
from gateway_app.core.config import Settings, load_settings
from gateway_app.services.platform import Platform, start_platform, stop_platform

DESCRIPTION = """Gatehouse: a multi-tenant AI gateway.

* **Client API** (`/v1`): OpenAI-compatible; authenticate with an API token (`Authorization: Bearer gh-...`).
* **Management API** (`/admin/v1`): what the console does; authenticate with the JWT from
  `POST /admin/v1/auth/login`. Platform admins choose a tenant with the `X-Tenant-Id` header.
"""


def _not_found_catchall(router: APIRouter) -> None:
    # Unknown /v1 and /admin paths must answer in their API's error shape, not fall through to
    # the console's HTML pages (the Reflex app is mounted behind this one).
    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def not_found(rest: str, request: Request) -> None:
        raise HTTPException(status_code=404)


def create_api(platform: Platform | None = None, *, settings: Settings | None = None,
               manage_lifespan: bool = True) -> FastAPI:
    """A NEW app each call (Reflex may build several in one process).

    With `platform`, the app serves that already-started platform (tests). Otherwise, when
    `manage_lifespan` is true, the app's lifespan starts and stops one; when false, the caller
    (the Reflex app) starts it and sets `app.state.holder.platform`.
    """
    holder = PlatformHolder()
    holder.platform = platform
    settings = settings or (platform.settings if platform else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if not manage_lifespan or platform is not None:
            yield
            return
        started = await start_platform(settings)
        holder.platform = started
        try:
            yield
        finally:
            await stop_platform(started)
            holder.platform = None

    app = FastAPI(title="Gatehouse API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    app.state.holder = holder
    install_error_handlers(app)
    install_openapi(app)

    app.include_router(health.router)
    app.include_router(metrics.router)
    admin = APIRouter(prefix="/admin/v1")
    for module in (auth, tenants, users, projects, tokens, providers, models, usage, prompts, guardrails, traces,
                   rag_modules, memory_stores, alerts):
        admin.include_router(module.router)
    _not_found_catchall(admin)
    app.include_router(admin)
    client = APIRouter(prefix="/v1")
    for module in (chat, messages, responses, client_models, files, observe, rag, vector_stores, memory):
        client.include_router(module.router)
    _not_found_catchall(client)
    app.include_router(client)

    # add_middleware puts each new one outermost: add innermost first.
    app.add_middleware(ClientHotPath, holder=holder)
    app.add_middleware(ClientAuthMiddleware, holder=holder)
    app.add_middleware(BodyLimitMiddleware, max_request_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(ClientCorsMiddleware, origins=settings.cors_origin_list)
    app.add_middleware(RequestContextMiddleware, holder=holder)
    return app
