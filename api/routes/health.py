"""Liveness and readiness probes."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="Process is alive")
async def live() -> dict:
    """200 while the process runs."""
    return {"status": "alive"}


@router.get("/health/ready", summary="Ready to serve: every required subsystem is up",
            responses={503: {"description": "starting, shutting down or a required subsystem is down"}})
async def ready(request: Request) -> JSONResponse:
    """Per-subsystem status; 503 when a required one is down or the server is draining."""
    platform = request.app.state.holder.platform
    if platform is None:
        return JSONResponse({"status": "starting", "checks": {}}, status_code=503, headers={"retry-after": "1"})
    readiness = await platform.health.readiness()
    body = readiness.as_dict()
    # Off-request-path writers: queue depth, written, retried, spilled, dropped (per writer).
    # Off the loop: a writer process's counters are a round trip (up to 2 s while it restarts).
    body["writers"] = await anyio.to_thread.run_sync(platform.tasks.stats)
    body["vector_ingestion"] = platform.ingestion.stats()  # files waiting, ingested, failed (this process)
    body["gc"] = platform.gc_pauses.stats()  # collector pauses per generation: the loop's longest stalls
    open_stats = getattr(platform.store, "open_stats", None)
    if open_stats is not None:  # tenant databases open now / at most (bounded by the open-files limit)
        body["tenant_databases"] = open_stats()
    if platform.lifecycle.draining:
        body["status"] = "draining"
        return JSONResponse(body, status_code=503, headers={"retry-after": str(platform.lifecycle.retry_after_seconds)})
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
