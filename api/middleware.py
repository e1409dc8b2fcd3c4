"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs too much on the hot path).

Order, outermost first: RequestContext (request id, draining, errors, access log) ->
ClientCors (/v1 only) -> ClientAuth (/v1 only: bearer token -> tenant, project, features).
"""

from __future__ import annotations

import json
import re
import time

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import client_error_body, is_client_path, status_for
from api.routes.client.chat import HOT_ROUTES as HOT_PATHS
from gateway_app.core.context import bind, begin_request, end_request
from gateway_app.core.errors import GatehouseError
from gateway_app.core.ids import fast_id
from gateway_app.core.logging import get_logger
from gateway_app.services.licenses import feature_for_path

log = get_logger("api.access")
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_JSON = [(b"content-type", b"application/json")]


class PlatformHolder:
    """Where the app finds the running platform (set by the lifespan that started it)."""

    def __init__(self) -> None:
        self.platform = None


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": _JSON + [(b"content-length", str(len(body)).encode())] + (headers or [])})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _error_body(path: str, status: int, message: str, code: str) -> bytes:
    if is_client_path(path):
        return client_error_body(path, message, status, code=code)
    return json.dumps({"detail": message, "code": code}).encode()


class RequestContextMiddleware:
    """Request id, context, in-flight counting, 503 while draining, last-resort 500, access log."""

    def __init__(self, app: ASGIApp, holder: PlatformHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        incoming = _header(scope, b"x-request-id")
        request_id = incoming.decode() if incoming and _REQUEST_ID.match(incoming) else fast_id()
        ctx, token = begin_request(request_id)
        platform = self.holder.platform
        lifecycle = platform.lifecycle if platform is not None else None
        started = time.perf_counter()
        status_holder = [0]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if ctx.tenant_id:
                    headers.append((b"x-tenant-id", ctx.tenant_id.encode()))
                if ctx.user_id:
                    headers.append((b"x-user-id", ctx.user_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if lifecycle is not None and lifecycle.draining and path != "/health/live":
                retry = str(lifecycle.retry_after_seconds).encode()
                await _send_json(send_with_headers, 503,
                                 _error_body(path, 503, "server is shutting down; retry shortly", "shutting_down"),
                                 [(b"retry-after", retry), (b"connection", b"close")])
                return
            if lifecycle is not None:
                lifecycle.request_started()
            try:
                await self.app(scope, receive, send_with_headers)
            except ClientDisconnect:
                # The client left while its body was being read: nobody to answer, nothing went wrong here.
                status_holder[0] = status_holder[0] or 499
            except Exception:
                log.exception("unhandled error", extra={"path": path})
                if status_holder[0] == 0:
                    await _send_json(send_with_headers, 500, _error_body(
                        path, 500, "internal error; quote the x-request-id header when reporting it",
                        "internal_error"))
            finally:
                if lifecycle is not None:
                    lifecycle.request_finished()
        finally:
            if path.startswith(("/v1", "/admin")):
                if platform is not None and platform.metrics is not None:
                    platform.metrics.response(route_template(scope), scope["method"], status_holder[0])
                log.info("request", extra={"method": scope["method"], "path": path, "status": status_holder[0],
                                           "ms": round((time.perf_counter() - started) * 1000, 2)})
            end_request(token)


_PREFIXES = ("/admin/v1", "/v1")


def route_template(scope: Scope) -> str | None:
    """The matched route's template with its router's prefix (`/v1/vector_stores/{vector_store_id}`), the
    path itself for the hot routes served before routing, None when nothing matched."""
    path: str = scope["path"]
    route = getattr(scope.get("route"), "path", None)
    if route is None:
        return path if path in HOT_PATHS else None
    prefix = next((p for p in _PREFIXES if path.startswith(p + "/")), "")
    return route if route.startswith(prefix) else prefix + route


class ClientCorsMiddleware:
    """CORS for the client API only (CORS_ORIGINS); other paths pass untouched."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["*"], allow_headers=["*"],
                                   expose_headers=["x-request-id", "x-ratelimit-remaining-requests",
                                                   "x-ratelimit-remaining-tokens"],
                                   allow_credentials="*" not in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_client_path(scope["path"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class ClientAuthMiddleware:
    """Resolves the bearer API token of /v1 requests and checks the licensed feature of the path."""

    def __init__(self, app: ASGIApp, holder: PlatformHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_client_path(scope["path"]) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        platform = self.holder.platform
        if platform is None:
            await _send_json(send, 503, client_error_body(path, "gateway is starting", 503, code="starting"),
                             [(b"retry-after", b"1")])
            return
        secret = _bearer(scope)
        if not secret:
            await _send_json(send, 401, client_error_body(
                path, "missing API key: send 'Authorization: Bearer <token>' (or 'x-api-key: <token>')", 401,
                code="invalid_api_key"))
            return
        try:
            identity = await platform.token_resolver.resolve(secret)
            feature = feature_for_path(path)
            if feature is not None:
                identity.require_feature(feature)
        except GatehouseError as exc:
            status = status_for(exc)
            code = "invalid_api_key" if status == 401 else exc.code
            await _send_json(send, status, client_error_body(path, exc.message, status, code=code))
            return
        bind(tenant_id=identity.tenant_slug, user_id=identity.token_id)
        scope.setdefault("state", {})["client"] = identity
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value:
        scheme, _, credential = value.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
        return None
    api_key = _header(scope, b"x-api-key") or _header(scope, b"api-key")
    return api_key.decode("latin-1").strip() if api_key else None
