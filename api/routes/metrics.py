"""GET /metrics: Prometheus text format, every worker's values summed (prometheus-client multiprocess)."""

from __future__ import annotations

import hmac
import ipaddress

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

router = APIRouter(tags=["health"])


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "authentication_error", "code": "metrics_forbidden"}},
                        status_code=status, headers={"www-authenticate": "Bearer"} if status == 401 else None)


_ERROR = {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "object"}}}}}


@router.get("/metrics", summary="Prometheus metrics (text exposition format)", response_class=PlainTextResponse,
            responses={401: {"description": "METRICS_TOKEN is set and the bearer token does not match",
                             "content": _ERROR},
                       403: {"description": "no METRICS_TOKEN: only loopback clients may scrape", "content": _ERROR},
                       503: {"description": "starting", "content": _ERROR}})
async def metrics(request: Request) -> Response:
    """Requests, latency, tokens, cost, breakers, cache and batch writers; METRICS_TOKEN as bearer token,
    or from loopback when none is set."""
    platform = request.app.state.holder.platform
    if platform is not None and not platform.settings.metrics_enabled:
        return JSONResponse({"error": {"message": "metrics are off (METRICS_ENABLED=false)", "type": "not_found_error",
                                       "code": "metrics_disabled"}}, status_code=404)
    if platform is None or platform.metrics is None:
        return JSONResponse({"error": {"message": "starting", "type": "server_error"}}, status_code=503)
    token = platform.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _refused(401, "a valid METRICS_TOKEN bearer token is required")
    elif not _loopback(request):
        return _refused(403, "set METRICS_TOKEN to scrape /metrics from another host")
    body, content_type = await anyio.to_thread.run_sync(platform.metrics.render)  # reads every worker's files
    return Response(body, media_type=content_type)
