"""One owner of the embedded Chroma files when a server runs several worker processes.

Embedded Chroma is not process-safe: two processes must never open the same path. With
`serve-api --workers N` and no Chroma server, the master starts one owner process holding the
per-tenant embedded clients (the same `DATA_DIR/vectors/<tenant>/` layout as a single process) and
the workers call it over an authenticated loopback connection (multiprocessing's manager: the
layer's methods, their arguments and results pickled, HMAC-authenticated with a per-run key).
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from multiprocessing.managers import BaseManager
from pathlib import Path

from gateway_app.services.vector.chroma_layer import VectorLayer

OWNER_ENV = "GATEHOUSE_VECTOR_OWNER"  # host:port of the owner, set by the master for its workers
KEY_ENV = "GATEHOUSE_VECTOR_OWNER_KEY"
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
    """Start the owner process on a free loopback port; its address and key go into the environment."""
    key = secrets.token_bytes(32)
    manager = _OwnerManager(address=("127.0.0.1", 0), authkey=key)
    manager.start(initializer=_init_owner, initargs=(str(root),))
    host, port = manager.address
    os.environ[OWNER_ENV] = f"{host}:{port}"
    os.environ[KEY_ENV] = key.hex()
    return manager


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
