"""Cheap unique ids for the hot path: a random per-process prefix and a counter (no syscall per id)."""

from __future__ import annotations

import itertools
import os
import secrets

_state: dict = {}


def _refresh() -> None:
    _state["prefix"] = secrets.token_hex(6)
    _state["counter"] = itertools.count(1)


_refresh()
# A forked worker must not reuse its parent's prefix; checking the pid on every id cost a system
# call per id on the request path.
os.register_at_fork(after_in_child=_refresh)


def fast_id(kind: str = "") -> str:
    """e.g. 'use_3f9a0c1b2d4e00001a': unique across processes and restarts (48 random bits + counter)."""
    value = f"{_state['prefix']}{next(_state['counter']):08x}"
    return f"{kind}_{value}" if kind else value
