"""The batch writers' fast path on SQLite: one plain sqlite3 connection per active tenant, no ORM.

With a thousand active tenants nearly every usage batch holds one or two records, so what a batch
costs is the transaction around them. Through a unit of work (Session, engine pool, ORM flush)
that was ~1.5 ms of CPU per tenant batch under load; a plain connection in autocommit mode with
an explicit `BEGIN IMMEDIATE` costs a fraction of it, and keeps no SQLAlchemy objects alive per
tenant (less memory, shorter collector pauses). Connections close after `idle_seconds` unused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from gateway_app.db.errors import StoreBusy, TenantStoreMissing
from gateway_app.db.records import UsageRecord, UsageRollup
from gateway_app.db.sqlite.engines import file_identity
from gateway_app.db.sqlite.usage_sql import insert_usage, merge_rollups, register_functions, touch_tokens
from gateway_app.db.tenancy import validate_slug


def tenant_file(data_dir: Path, slug: str) -> Path:
    """File of a tenant's database (slug validated first: it becomes a file name)."""
    return data_dir / f"tenant_{validate_slug(slug)}.sqlite"


class _Held:
    __slots__ = ("closed", "connection", "file_id", "lock", "used")

    def __init__(self, connection: sqlite3.Connection, file_id: tuple[int, int], now: float) -> None:
        self.connection = connection
        self.file_id = file_id
        self.lock = threading.Lock()  # one transaction at a time per connection (writers share it)
        self.used = now
        self.closed = False

    def close(self) -> None:
        with self.lock:  # a transaction on another thread finishes first
            self.closed = True
            self.connection.close()


class SqliteAppends:
    """Usage and last-used writes, each one short transaction on the tenant's own connection."""

    def __init__(self, path_of: Callable[[str], Path], *, max_open: int, busy_timeout_ms: int,
                 idle_seconds: float = 600.0, clock=time.monotonic) -> None:
        self._path_of = path_of
        self._max = max_open
        self._busy_timeout_ms = busy_timeout_ms
        self._idle = idle_seconds
        self._clock = clock
        self._held: OrderedDict[Path, _Held] = OrderedDict()
        self._paths: dict[str, Path] = {}  # tenant -> its file (the slug validated once)
        self._lock = threading.Lock()
        self._next_sweep = clock() + min(60.0, idle_seconds)
        self.opened = 0

    def usage(self, tenant: str, records: Sequence[UsageRecord], rollups: Sequence[UsageRollup]) -> None:
        """Insert usage rows and merge their roll-ups in one transaction."""
        with self._transaction(tenant) as cursor:
            insert_usage(cursor, records)
            merge_rollups(cursor, rollups)

    def token_touches(self, tenant: str, last_used: Sequence[tuple[str, datetime]]) -> None:
        """Set last_used_at of tokens in one transaction."""
        with self._transaction(tenant) as cursor:
            touch_tokens(cursor, last_used)

    @contextmanager
    def _transaction(self, tenant: str) -> Iterator[sqlite3.Cursor]:
        path = self._path(tenant)
        held = self._checkout(path)
        while True:
            held.lock.acquire()
            if not held.closed:
                break
            held.lock.release()  # evicted between checkout and here: take a fresh one
            held = self._checkout(path)
        try:
            cursor = held.connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except BaseException as exc:
                if held.connection.in_transaction:
                    held.connection.rollback()
                if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                    raise StoreBusy(f"the database is busy ({exc}); retry shortly") from exc
                raise
            finally:
                cursor.close()
        finally:
            held.lock.release()

    def _path(self, tenant: str) -> Path:
        path = self._paths.get(tenant)
        if path is None:
            if len(self._paths) >= 4 * self._max:
                self._paths.clear()  # keep the map bounded however many tenants come and go
            path = self._paths[tenant] = self._path_of(tenant)  # validates the slug
        return path

    def _checkout(self, path: Path) -> _Held:
        # A tenant deleted (and perhaps created again) by another process leaves this process a
        # connection to the unlinked file: writes there would vanish. One stat per batch notices.
        file_id = file_identity(path)
        now = self._clock()
        closing: list[_Held] = []
        try:
            with self._lock:
                held = self._held.get(path)
                if held is not None and held.file_id != file_id:
                    del self._held[path]
                    closing.append(held)
                    held = None
                if file_id is None:
                    raise TenantStoreMissing(f"no database at {path.name}")
                if held is None:
                    held = self._held[path] = _Held(self._connect(path), file_id, now)
                    self.opened += 1
                    while len(self._held) > self._max:
                        closing.append(self._held.popitem(last=False)[1])
                held.used = now
                self._held.move_to_end(path)
                if now >= self._next_sweep:
                    self._next_sweep = now + min(60.0, self._idle)
                    closing.extend(self._idle_connections(now))
        finally:
            for item in closing:
                item.close()
        return held

    def _connect(self, path: Path) -> sqlite3.Connection:
        # mode=rw: never creates a file, so a deleted tenant stays deleted.
        try:
            connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None,
                                         check_same_thread=False, timeout=self._busy_timeout_ms / 1000)
        except sqlite3.OperationalError as exc:
            raise TenantStoreMissing(f"cannot open {path.name}: {exc}") from exc
        connection.execute("PRAGMA synchronous=NORMAL")
        # These transactions touch a handful of pages; the default 2 MB cache per connection, times
        # a thousand tenants, was most of the writer process's memory.
        connection.execute("PRAGMA cache_size=-64")
        connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        register_functions(connection)
        return connection

    def _idle_connections(self, now: float) -> list[_Held]:
        idle = []
        while self._held:
            oldest, candidate = next(iter(self._held.items()))
            if now - candidate.used < self._idle:
                break
            del self._held[oldest]
            idle.append(candidate)
        return idle

    def discard(self, path: Path) -> None:
        """Close a tenant's connection (before its files are deleted)."""
        with self._lock:
            held = self._held.pop(path, None)
        if held is not None:
            held.close()

    def __len__(self) -> int:
        return len(self._held)

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            held, self._held = list(self._held.values()), OrderedDict()
        for item in held:
            item.close()
