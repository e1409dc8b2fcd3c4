"""SQLite engines: WAL mode, one engine per database file, kept in a bounded LRU."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import Engine, create_engine, event


DEFAULT_BUSY_TIMEOUT_MS = 10_000


def _pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
    return on_connect


def make_engine(path: Path, *, create: bool, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """An engine on a SQLite file; with create=False the file must already exist."""
    if create:
        url = f"sqlite:///{path}"
    else:
        # URI mode=rw: opening never creates a file, so a missing tenant stays missing.
        url = f"sqlite:///file:{path}?mode=rw&uri=true"
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
                           pool_pre_ping=False)
    event.listen(engine, "connect", _pragmas(busy_timeout_ms))
    return engine


class EngineCache:
    """Engines by file path; the least recently used one is disposed past max_size."""

    def __init__(self, max_size: int = 64, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self._max = max_size
        self._busy_timeout_ms = busy_timeout_ms
        self._engines: OrderedDict[Path, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> Engine:
        """The engine for an existing database file."""
        with self._lock:
            engine = self._engines.get(path)
            if engine is not None:
                self._engines.move_to_end(path)
                return engine
            engine = make_engine(path, create=False, busy_timeout_ms=self._busy_timeout_ms)
            self._engines[path] = engine
            while len(self._engines) > self._max:
                _, evicted = self._engines.popitem(last=False)
                evicted.dispose()
            return engine

    def discard(self, path: Path) -> None:
        """Dispose and forget the engine of a file (before deleting the file)."""
        with self._lock:
            engine = self._engines.pop(path, None)
        if engine is not None:
            engine.dispose()

    def close(self) -> None:
        """Dispose every engine."""
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.dispose()

    def __len__(self) -> int:
        return len(self._engines)
