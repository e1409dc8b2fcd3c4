"""Cheap unique ids for the hot path: a random per-process prefix and a counter (no syscall per id)."""

from __future__ import annotations

import itertools
import os
import secrets
import threading

_lock = threading.Lock()
_state = {"pid": -1, "prefix": "", "counter": itertools.count()}


def _refresh() -> None:
    # A forked worker must not reuse its parent's prefix.
    _state["pid"] = os.getpid()
    _state["prefix"] = secrets.token_hex(6)
    _state["counter"] = itertools.count(1)


def fast_id(kind: str = "") -> str:
    """e.g. 'use_3f9a0c1b2d4e00001a': unique across processes and restarts (48 random bits + counter)."""
    if _state["pid"] != os.getpid():
        with _lock:
            if _state["pid"] != os.getpid():
                _refresh()
    value = f"{_state['prefix']}{next(_state['counter']):08x}"
    return f"{kind}_{value}" if kind else value
