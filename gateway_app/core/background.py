"""Stopping a process's background tasks: one way, robust to a cancellation that gets lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gateway_app.core.logging import get_logger

log = get_logger("lifecycle")
RECANCEL_SECONDS = 0.5


async def stop_tasks(tasks: Iterable[asyncio.Task | None], timeout: float = 10.0) -> list[str]:
    """Cancel the tasks and wait until they end; returns the names of any still running after timeout.

    A cancellation can be lost: a client library's own timeout that fires at the moment the task is
    cancelled turns the CancelledError into a TimeoutError that an outage handler catches, and a
    periodic loop then sleeps on to its next round (seen in CI: a shutdown that waited three minutes
    for the alert scheduler). So a task still running is cancelled again every RECANCEL_SECONDS.
    """
    tasks = [task for task in tasks if task is not None]
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        for task in pending:
            task.cancel()
        wait = min(RECANCEL_SECONDS, deadline - loop.time())
        if wait <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=wait)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("background task ended with an error", extra={"task": task.get_name(),
                                                                      "error": repr(task.exception())})
    survivors = sorted(task.get_name() for task in pending)
    if survivors:
        log.warning("background tasks still running at stop", extra={"tasks": survivors})
    return survivors

