"""How many tenant databases a process may hold open: the bound on open files, derived from RLIMIT_NOFILE.

Kept apart from the engines (no SQLAlchemy here) because the writer process needs it too and
imports as little as it can: every module it loads is memory it keeps.
"""

from __future__ import annotations

import resource

ENGINE_POOL_SIZE = 2  # idle connections kept per tenant engine (db/sqlite/engines.py: TENANT_POOL_SIZE)
FDS_PER_ENGINE = 3 * ENGINE_POOL_SIZE  # each connection holds the database, its -wal and its -shm file
FDS_PER_TENANT = FDS_PER_ENGINE + 3  # plus the batch writers' own connection (db/sqlite/appends.py)
FD_RESERVE = 512  # sockets, logs, the control database, spill files, Python's own


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def open_tenant_budget(requested: int | None = None) -> int:
    """How many tenant databases may stay open: the setting, within the descriptor limit."""
    fit = max(8, (raise_fd_limit() - FD_RESERVE) // FDS_PER_TENANT)
    return min(requested, fit) if requested else min(4096, fit)
