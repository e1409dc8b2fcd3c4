"""One owner of the embedded Chroma files when a server runs several worker processes.

Embedded Chroma is not process-safe: two processes must never open the same path. With
`serve-api --workers N` and no Chroma server, the master starts one owner process holding the
per-tenant embedded clients; a single serving process starts its own (VECTOR_OWNER_PROCESS), because
Chroma's embedded writes hold the GIL (about 0.5 ms a chunk: a 1,000-chunk write froze every
request of the process for half a second) (the same `DATA_DIR/vectors/<tenant>/` layout as a single process) and
the workers call it over an authenticated loopback connection (multiprocessing's manager: the
layer's methods, their arguments and results pickled, HMAC-authenticated with a per-run key).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import signal
import threading
import time
from multiprocessing.managers import BaseManager
from pathlib import Path

from gateway_app.core.logging import get_logger
from gateway_app.services.vector.chroma_layer import VectorLayer

OWNER_ENV = "GATEHOUSE_VECTOR_OWNER"  # host:port of the owner, set by the master for its workers
KEY_ENV = "GATEHOUSE_VECTOR_OWNER_KEY"
log = get_logger("vector")
_layer: VectorLayer | None = None


class _OwnerManager(BaseManager):
    """The manager serving the one VectorLayer."""


def _the_layer() -> VectorLayer:
    if _layer is None:
        raise RuntimeError("the vector owner has no layer")
    return _layer


def _init_owner(root: str) -> None:
    # The owner outlives Ctrl-C and the process group's SIGTERM until the master, done with its
    # workers (which drain through it), stops it; it ends by itself if the master disappears.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    global _layer
    _layer = VectorLayer(Path(root))
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="vector-owner-parent", daemon=True).start()


_OwnerManager.register("layer", callable=_the_layer)


def start_owner(root: Path) -> BaseManager:
    """Start the owner process on a free loopback port; its address and key go into the environment
    (for the worker processes a master starts)."""
    manager, key = _spawn(root)
    host, port = manager.address
    os.environ[OWNER_ENV] = f"{host}:{port}"
    os.environ[KEY_ENV] = key.hex()
    return manager


def _spawn(root: Path) -> tuple[BaseManager, bytes]:
    # Spawned, not forked: a serving process has threads whose locks a fork would copy held.
    key = secrets.token_bytes(32)
    manager = _OwnerManager(address=("127.0.0.1", 0), authkey=key, ctx=multiprocessing.get_context("spawn"))
    manager.start(initializer=_init_owner, initargs=(str(root),))
    return manager, key


class SharedVectorLayer:
    """The VectorLayer interface, served by the owner process (connects on first use)."""

    mode = "embedded (one owner process)"

    def __init__(self, address: str, key_hex: str) -> None:
        host, port = address.rsplit(":", 1)
        self._address = (host, int(port))
        self._key = bytes.fromhex(key_hex)
        self._proxy = None
        self._lock = threading.Lock()

    def _layer(self):
        with self._lock:
            if self._proxy is None:
                manager = _OwnerManager(address=self._address, authkey=self._key)
                manager.connect()
                self._proxy = manager.layer()
            return self._proxy

    def __getattr__(self, name: str):
        # upsert, query, delete_file, delete_ids, set_file_attributes, count, drop_store, drop_tenant
        return getattr(self._layer(), name)

    def ping(self) -> None:
        """Raise unless the owner answers."""
        self._layer().ping()


def layer_from_environment() -> SharedVectorLayer | None:
    """The owner's layer when this process is a worker of a master that started one."""
    address, key = os.environ.get(OWNER_ENV), os.environ.get(KEY_ENV)
    return SharedVectorLayer(address, key) if address and key else None


class OwnedVectorLayer:
    """The VectorLayer of a single serving process, in an owner process it starts on first use."""

    mode = "embedded (owner process)"

    def __init__(self, root: Path) -> None:
        self._root = root
        self._manager: BaseManager | None = None
        self._shared: SharedVectorLayer | None = None
        self._lock = threading.Lock()

    def _layer(self) -> SharedVectorLayer:
        with self._lock:
            if self._manager is not None and not self._manager._process.is_alive():  # noqa: SLF001
                log.warning("the vector owner process died; starting another")  # Chroma's files stay as written
                self._manager = self._shared = None
            if self._shared is None:
                self._manager, key = _spawn(self._root)
                host, port = self._manager.address
                self._shared = SharedVectorLayer(f"{host}:{port}", key.hex())
            return self._shared

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):  # bound now (tenant deletion keeps drop_tenant), started when called
            try:
                return getattr(self._layer(), name)(*args, **kwargs)
            except (EOFError, ConnectionError):
                if self._manager is None or self._manager._process.is_alive():  # noqa: SLF001
                    raise
                # The owner died during the call: once more on a new owner (every layer call is idempotent).
                return getattr(self._layer(), name)(*args, **kwargs)

        return call

    @property
    def started(self) -> bool:
        """Whether the owner process runs (it starts with the first vector call)."""
        return self._shared is not None

    def ping(self) -> None:
        """Raise unless the owner answers (not started yet: nothing to check)."""
        if self._shared is not None:
            self._shared.ping()

    def close(self) -> None:
        """Stop the owner process (after ingestion has stopped)."""
        with self._lock:
            if self._manager is not None:
                self._manager.shutdown()
            self._manager = self._shared = None
