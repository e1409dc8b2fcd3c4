"""Runtime pool: one client per key, rebuilt on config change, closing what it replaces or evicts."""

import asyncio

from gateway_app.core.runtime_pool import RuntimePool


class Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_same_key_and_fingerprint_reuse_the_client():
    pool = RuntimePool(max_size=4)
    built = []

    def factory():
        built.append(Client("a"))
        return built[-1]

    first = await pool.get("a", "v1", factory)
    second = await pool.get("a", "v1", factory)
    assert first is second and len(built) == 1
    await pool.close_all()


async def test_new_fingerprint_builds_a_new_client_and_retires_the_old_one():
    pool = RuntimePool(max_size=4, close_grace=0.05)
    old = await pool.get("a", "v1", lambda: Client("old"))
    new = await pool.get("a", "v2", lambda: Client("new"))
    assert new is not old
    assert not old.closed, "in-flight requests may still use it during the grace period"
    await asyncio.sleep(0.1)
    assert old.closed and not new.closed
    await pool.close_all()


async def test_least_recently_used_client_is_evicted_and_closed():
    pool = RuntimePool(max_size=2, close_grace=0)
    a = await pool.get("a", "1", lambda: Client("a"))
    b = await pool.get("b", "1", lambda: Client("b"))
    await pool.get("a", "1", lambda: Client("a2"))  # touch a
    c = await pool.get("c", "1", lambda: Client("c"))
    await asyncio.sleep(0.01)
    assert len(pool) == 2
    assert b.closed and not a.closed and not c.closed
    await pool.close_all()


async def test_concurrent_gets_build_once():
    pool = RuntimePool()
    built = 0

    async def factory():
        nonlocal built
        built += 1
        await asyncio.sleep(0.01)
        return Client("x")

    clients = await asyncio.gather(*(pool.get("k", "1", factory) for _ in range(10)))
    assert built == 1 and all(c is clients[0] for c in clients)
    await pool.close_all()


async def test_close_all_closes_live_and_retiring_clients():
    pool = RuntimePool(close_grace=60)
    retiring = await pool.get("a", "1", lambda: Client("r"))
    live = await pool.get("a", "2", lambda: Client("l"))
    other = await pool.get("b", "1", lambda: Client("o"))
    await pool.close_all()
    assert retiring.closed and live.closed and other.closed
    assert len(pool) == 0


async def test_clients_unused_for_the_idle_time_are_closed_and_busy_ones_kept():
    now = [0.0]
    pool = RuntimePool(max_size=1000, close_grace=0.0, idle_seconds=100.0, clock=lambda: now[0])
    clients = {key: await pool.get(key, "v1", lambda key=key: Client(key)) for key in ("idle", "busy")}
    for step in range(1, 5):
        now[0] = step * 40.0
        await pool.get("busy", "v1", lambda: Client("new-busy"))  # keeps "busy" in use, drives the sweep
    await asyncio.sleep(0.01)
    assert clients["idle"].closed and not clients["busy"].closed
    assert len(pool) == 1 and pool.built_count == 2
    await pool.close_all()


async def test_the_pool_grows_with_active_providers_instead_of_thrashing():
    pool = RuntimePool()
    for key in range(500):
        await pool.get(f"tenant-{key}:prv", "v1", lambda key=key: Client(str(key)))
    for key in range(500):  # a second round over every provider builds nothing new
        await pool.get(f"tenant-{key}:prv", "v1", lambda: Client("rebuilt"))
    assert pool.built_count == 500 and len(pool) == 500
    await pool.close_all()
