"""SQLite engines: WAL mode, one engine per database file, kept open while its tenant is active.

Each open engine keeps at most TENANT_POOL_SIZE idle connections, and each connection holds three
file descriptors (the database, its -wal and its -shm file). The cache holds at most ENGINE_MAX_OPEN
engines (memory), fewer if the process's descriptor limit says so (file_budget.py), and an engine
unused for `idle_seconds` is closed, so the open set follows the active tenants instead of thrashing
at a fixed size.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.util import LRUCache

from gateway_app.db.sqlite.file_budget import ENGINE_POOL_SIZE
from gateway_app.db.sqlite.usage_sql import register_functions


DEFAULT_BUSY_TIMEOUT_MS = 10_000
TENANT_POOL_SIZE = ENGINE_POOL_SIZE  # idle connections kept per tenant engine; more open under load, closed when returned
TENANT_POOL_OVERFLOW = 6
ENGINE_IDLE_SECONDS = 30.0  # engines serve configuration loads and the console, not steady traffic
# Engines kept open at once, whatever the descriptor limit allows: each costs the worker ~300-450 KB
# (its SQLite connection's parsed schema and page cache, ~1,300 Python objects that every full
# collection walks, and the heap they fragment). The request path reads caches, so past this many a
# cold load reopens a database (~1 ms, once per tenant per cache TTL) instead of a worker growing by
# hundreds of MB when 1,000 tenants start at once; 128 open still cost 45 MB more than 32 at 1,000.
ENGINE_MAX_OPEN = 32


def _pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
        register_functions(dbapi_connection)
    return on_connect


def make_engine(path: Path, *, create: bool, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                pool_size: int | None = None) -> Engine:
    """An engine on a SQLite file; with create=False the file must already exist."""
    if create:
        url = f"sqlite:///{path}"
    else:
        # URI mode=rw: opening never creates a file, so a missing tenant stays missing.
        url = f"sqlite:///file:{path}?mode=rw&uri=true"
    tenant = pool_size is not None
    options = {"pool_size": pool_size, "max_overflow": TENANT_POOL_OVERFLOW,
               "execution_options": {"compiled_cache": _TENANT_STATEMENTS}} if tenant else {}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
                           pool_pre_ping=False, **options)
    if tenant:
        # SQLAlchemy keys compiled statements by dialect object, and each engine has its own: every
        # tenant's first requests compiled the same queries again (a third of a tenant's cold start).
        # All tenant files are the same SQLite schema through the same driver, so their engines
        # share one initialised dialect and one statement cache.
        engine.dialect = _tenant_dialect()
    event.listen(engine, "connect", _pragmas(busy_timeout_ms))
    return engine


_TENANT_STATEMENTS = LRUCache(2000)


@functools.cache
def _tenant_dialect() -> Dialect:
    """The dialect every tenant engine uses, initialised once on an in-memory database."""
    probe = create_engine("sqlite://")
    with probe.connect():  # the first connection initialises the dialect (server version, ...)
        pass
    probe.dispose()
    return probe.dialect


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, None when it is missing: a file deleted and created again differs."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class EngineCache:
    """Engines by file path: kept while used, disposed after idle_seconds or past max_size (LRU)."""

    def __init__(self, max_size: int = 64, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                 idle_seconds: float = 600.0, clock=time.monotonic) -> None:
        self._max = max_size
        self._busy_timeout_ms = busy_timeout_ms
        self._idle = idle_seconds
        self._clock = clock
        # path -> [engine, last used, the file's identity when opened], LRU order
        self._engines: OrderedDict[Path, list] = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = clock() + min(60.0, idle_seconds)
        self.opened = 0  # engines created (a reopen after eviction counts again)

    @property
    def max_size(self) -> int:
        """The most engines kept open."""
        return self._max

    def get(self, path: Path, identity: tuple[int, int]) -> Engine:
        """The engine for an existing database file whose file_identity() is `identity`.

        An engine opened on an earlier file of that path (a tenant deleted and created again by
        another worker or host) is replaced: its connections still read and write the deleted file.
        """
        now = self._clock()
        retired: list[Engine] = []
        with self._lock:
            entry = self._engines.get(path)
            if entry is not None and entry[2] != identity:
                retired.append(self._engines.pop(path)[0])
                entry = None
            if entry is not None:
                entry[1] = now
                self._engines.move_to_end(path)
                engine = entry[0]
            else:
                engine = make_engine(path, create=False, busy_timeout_ms=self._busy_timeout_ms,
                                     pool_size=TENANT_POOL_SIZE)
                self.opened += 1
                self._engines[path] = [engine, now, identity]
                while len(self._engines) > self._max:
                    retired.append(self._engines.popitem(last=False)[1][0])
            if now >= self._next_sweep:
                retired.extend(self._take_idle(now))
        for old in retired:  # outside the lock: closing connections is I/O
            old.dispose()
        return engine

    def sweep(self) -> int:
        """Dispose engines unused for idle_seconds (also done by get() now and then); returns how many."""
        with self._lock:
            retired = self._take_idle(self._clock())
        for old in retired:
            old.dispose()
        return len(retired)

    def _take_idle(self, now: float) -> list[Engine]:
        """Remove the engines unused for idle_seconds (oldest first in LRU order); caller holds the lock."""
        self._next_sweep = now + min(60.0, self._idle)
        retired = []
        while self._engines:
            oldest, (candidate, used, _identity) = next(iter(self._engines.items()))
            if now - used < self._idle:
                break
            del self._engines[oldest]
            retired.append(candidate)
        return retired

    def discard(self, path: Path) -> None:
        """Dispose and forget the engine of a file (before deleting the file)."""
        with self._lock:
            entry = self._engines.pop(path, None)
        if entry is not None:
            entry[0].dispose()

    def close(self) -> None:
        """Dispose every engine."""
        with self._lock:
            engines = [entry[0] for entry in self._engines.values()]
            self._engines.clear()
        for engine in engines:
            engine.dispose()

    def __len__(self) -> int:
        return len(self._engines)
