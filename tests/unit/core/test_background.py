"""Stopping background tasks, including one whose first cancellation is lost."""

import asyncio

from gateway_app.core.background import stop_tasks


async def _swallows_first_cancel(rounds: list[int]) -> None:
    lost = False
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if lost:
                raise
            lost = True  # what a client library's timeout race does: the loop sleeps on
        rounds.append(1)


async def test_a_task_that_loses_its_cancellation_still_stops():
    rounds: list[int] = []
    task = asyncio.create_task(_swallows_first_cancel(rounds), name="stubborn")
    await asyncio.sleep(0)
    assert await stop_tasks([task], timeout=5) == []
    assert task.cancelled() and rounds == [1]


async def test_a_task_that_never_ends_is_named_and_does_not_hang_the_stop():
    release = asyncio.Event()

    async def never() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass

    task = asyncio.create_task(never(), name="immortal")
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await stop_tasks([task, None], timeout=0.3) == ["immortal"]
    assert loop.time() - started < 2
    assert not task.done()
    release.set()
    task.cancel()
    await task
